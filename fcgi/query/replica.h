/* SPDX-License-Identifier: ISC */
/*
 * replica.h - where the query responder reads MySQL: a replica
 * (mysql_read_host / mysql_read_port) while it is up and no further behind
 * the primary than mysql_read_max_lag_s, else the primary (mysql_host).
 *
 * The replica's state (SHOW SLAVE STATUS: both threads running,
 * Seconds_Behind_Master) is looked at once per REPLICA_CHECK_MS per
 * process and after any failed read on it; in between the last verdict
 * holds.  Seconds_Behind_Master counts only what the replica has received
 * (0 on a link gone silent), so each look also reads the primary's GTID
 * position: a replica that has not applied within mysql_read_max_lag_s
 * what the primary had written at an earlier look is behind (a primary
 * that does not answer is not asked again for PRIMARY_RETRY_MS).  A read
 * that fails on the replica is done again on the primary, so
 * a replica that dies costs no failed request (docs/reliability.md).
 * Without mysql_read_host everything reads the primary and nothing is
 * checked.
 */
#ifndef BOX_REPLICA_H
#define BOX_REPLICA_H

#include "conf.h"
#include "dbq.h"
#include "err.h"
#include "gtid.h"

#define REPLICA_CHECK_MS	1000	/* between two looks at the replica */
/* A look that could not read the primary's position (its host gone: every
 * connect waits mysql_timeout_ms) does not ask it again for this long:
 * SHOW SLAVE STATUS alone decides meanwhile. */
#define PRIMARY_RETRY_MS	10000

struct replica {
	struct dbq	 primary;
	struct dbq	 replica;
	int		 configured;	/* mysql_read_host set */
	int		 max_lag_s;
	long long	 checked_ms;	/* mono_ms() of the last look, 0: never */
	int		 usable;	/* verdict of the last look */
	long long	 lag_s;		/* Seconds_Behind_Master (or how long
					   the replica has not reached target),
					   -1 unknown */
	struct gtid_pos	 target;	/* the primary's position at a look */
	long long	 target_ms;	/* mono_ms() of that look, 0: none */
	long long	 primary_retry_ms; /* mono_ms() before which a look
					   does not ask the primary, 0: none */
	char		 state[ERRSTR_MAX + 64];	/* "ok", or why not read */
	const char	*word;		/* state for /get/health: "ok", "down",
					   "not replicating", "behind" */
	unsigned long	 fallbacks;	/* reads sent to the primary instead */
};

/* Sets up both connections (connects nothing). */
void	replica_init(struct replica *r, const struct conf *c);
void	replica_close(struct replica *r);
/* The connection to read from now (the replica if usable, looking at its
 * state if the last look is older than REPLICA_CHECK_MS). */
struct dbq *replica_reader(struct replica *r);
/* A read on q failed: if q is the replica, it is not used until its next
 * look, and the primary is returned to do the read again; else NULL. */
struct dbq *replica_failed(struct replica *r, struct dbq *q);
/* Looks at the replica now (health).  Returns 1 if it is read, else 0. */
int	replica_check(struct replica *r);

#endif
