/* SPDX-License-Identifier: ISC */
/*
 * catalog.h - the operator's catalog (docs/api.md) as ticketctl manages
 * it: the current document read from MySQL, apply (MySQL transaction, then
 * Redis, all or nothing), and the Redis side of one event zone (load with
 * lua/load_zone.lua, drop with lua/drop_zone.lua), which `init` shares.
 */
#ifndef BOX_CTL_CATALOG_H
#define BOX_CTL_CATALOG_H

#include "catalog_doc.h"
#include "ctl.h"
#include "sold.h"

/* Outcomes of catalog_zone_load() and catalog_zone_drop(). */
#define CATZ_CREATED	1	/* load: counters created; drop: removed */
#define CATZ_KEPT	0	/* load: counters kept; drop: nothing there */
#define CATZ_NO_COUNT	(-1)	/* load: counters absent, creating refused */
#define CATZ_SOLD	(-2)	/* venue/shape/price change or removal
				   refused: the zone shows a sale */
#define CATZ_ERROR	(-3)	/* Redis failed: ctl->rds.errstr */

/* Loads one event zone into its Redis node (catalog hash, sale window,
 * counters when absent and may_create).  Returns a CATZ_* value. */
int	catalog_zone_load(struct ctl *ctl, const struct catalog_zone *cz,
	    int may_create);
/* Takes one event zone out of Redis unless it shows a sale; CATZ_*. */
int	catalog_zone_drop(struct ctl *ctl, const char *event, long zone);
/* What Redis shows sold of one event zone: seats taken in the bitmap plus
 * pending and claimed tickets; *fenced set if the catalog hash exists but
 * the counters do not (sales unknown until `ticketctl rebuild`).  Returns
 * the count, or -1 (ctl->rds.errstr). */
long	catalog_zone_taken(struct ctl *ctl, const char *event, long zone,
	    int *fenced);

/* Tickets in flight between the responders and MySQL: messages queued in
 * ticketSQL (and its dead-letter queue) or held unacked by the consumer.
 * The one place where apply's refusals learn of them.  Fills s (sorted).
 * Returns 0, or -1 (printed). */
int	catalog_in_flight(struct ctl *ctl, struct soldv *s);

/* The current catalog from MySQL (db: the catalog account).  Returns 0, or
 * -1 (printed). */
int	catalog_current(struct ctl *ctl, struct db *d, struct catdoc *doc);
/* Makes MySQL and Redis match doc, all or nothing; prints the plan, and
 * with dry_run only the plan.  Returns CTL_OK, or CTL_FAIL (refused: each
 * offending item named; or a store failed; nothing changed either way). */
int	catalog_apply(struct ctl *ctl, struct catdoc *doc, int dry_run);
/* The catalog account's MySQL connection. */
void	catalog_db_open(struct ctl *ctl, struct db *d);

#endif
