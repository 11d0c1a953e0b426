/* SPDX-License-Identifier: ISC */
/*
 * sweeper.h - completes sales whose publish outcome was unknown
 * (docs/reliability.md).
 *
 * The order script records each sale in its zone's pending set
 * bo:pend:{E:Z} (its orderId; the message is in bo:ords:{E:Z}, which
 * lua/claim.lua returns beside it; a cancellation's entry, or one of the
 * old shape, is the message itself); the responder removes it after the
 * broker's confirm.  An
 * entry that stays longer than sweeper_stale_ms belongs to a publish that
 * timed out, lost its connection, was nacked, or to a responder killed
 * between reserve and publish.  Every sweeper_interval_ms the sweeper runs
 * lua/claim.lua on every zone tag of every Redis node (set bo:zones): it
 * moves stale entries to bo:sweep:{E:Z}, after which the responder can no
 * longer release the seat, and publishes each claimed entry with a
 * publisher confirm; a confirmed entry is removed from bo:sweep, anything
 * else stays for the next round.  Duplicates are harmless: both pipelines
 * are idempotent.  The sweeper has its own Redis and AMQP connections.
 *
 * A second thread ends the holds past their expiry (lua/hold_expire.lua)
 * in every zone on the same timer, with a Redis connection of its own:
 * a publish waiting out amqp_confirm_timeout_ms (a frozen broker) must
 * not delay an expiry CONTRACT section 7 promises within 5 s.
 */
#ifndef BOX_SWEEPER_H
#define BOX_SWEEPER_H

#include <stdatomic.h>

#include "conf.h"

#define SWEEP_CLAIM_MAX	500	/* entries claimed per zone and round */
#define SWEEP_DOWN_MAX	16	/* masters noted as not answering, a round */

struct sweeper {
	const struct conf	*c;
	const atomic_int	*stop;
	atomic_ulong		 published;	/* total republished */
};

/* Thread entries, each until *stop is set (a struct sweeper *, shared);
 * return NULL: sweeper_run claims and republishes, sweeper_holds_run ends
 * expired holds. */
void	*sweeper_run(void *sweeper);
void	*sweeper_holds_run(void *sweeper);

#endif
