/* SPDX-License-Identifier: ISC */
/*
 * catalog.h - the operator's catalog (docs/catalog.md) as ticketctl manages
 * it: the current document read from MySQL, apply (MySQL transaction, then
 * Redis, all or nothing), and the Redis side of one event zone (load with
 * lua/load_zone.lua, drop with lua/drop_zone.lua), which `init` shares.
 */
#ifndef BOX_CTL_CATALOG_H
#define BOX_CTL_CATALOG_H

#include "catalog_doc.h"
#include "ctl.h"
#include "sold.h"

/* Outcomes of catalog_zone_load() and catalog_zone_drop().  CATZ_SOLD to
 * CATZ_CREATED are the integer answers of lua/load_zone.lua and
 * lua/drop_zone.lua. */
enum catz {
	CATZ_ERROR = -3,	/* Redis failed: ctl->rds.errstr */
	CATZ_SOLD = -2,		/* venue/shape/price change or removal
				   refused: the zone shows a sale */
	CATZ_NO_COUNT = -1,	/* load: counters absent, creating refused */
	CATZ_KEPT = 0,		/* load: counters kept; drop: nothing there */
	CATZ_CREATED = 1	/* load: counters created; drop: removed */
};

/* "redis failed", "it sold", "no counters", "kept", "created". */
const char *catz_str(enum catz r);

/* Whether catalog_zone_load() may give a zone without counters full ones
 * (lua/load_zone.lua's may_create). */
enum catz_create {
	CATZ_CREATE_NEVER = 0,
	CATZ_CREATE_UNTRACED,	/* if Redis shows no trace of a sale (init,
				   which accounted for every sale) */
	CATZ_CREATE_CHECKED	/* as UNTRACED, but a zone whose catalog
				   hash is there without counters is
				   CATZ_SOLD: catalog apply checked it
				   unsold, it was fenced since */
};

/* Loads one event zone into its Redis node (catalog hash, sale window,
 * counters when absent as create says).  Returns an enum catz. */
enum catz catalog_zone_load(struct ctl *ctl, const struct catalog_zone *cz,
	    enum catz_create create);
/* The venue, shape and price Redis holds for one event zone, as text
 * ("Venue1 26x30 at 80.00", or "nothing"), into out.  Returns 0, or -1
 * (ctl->rds.errstr). */
int	catalog_zone_held(struct ctl *ctl, const char *event, long zone,
	    char *out, size_t len);
/* Takes one event zone out of Redis unless it shows a sale. */
enum catz catalog_zone_drop(struct ctl *ctl, const char *event, long zone);
/* What Redis shows sold of one event zone: seats taken in the bitmap plus
 * pending and claimed tickets; *fenced set if the catalog hash exists but
 * the counters do not (sales unknown until `ticketctl rebuild`); *seen set
 * if Redis sees every sale of the zone: its counters are there (or it is
 * not there at all: removed while unsold, or never loaded; nothing sells
 * without its catalog hash) and its node is intact (CTL_KEY_INTACT:
 * nothing it loaded was lost since), so a ticket still queued or held
 * unacked by the consumer has its seat taken.
 * Returns the count, or -1 (ctl->rds.errstr). */
long	catalog_zone_taken(struct ctl *ctl, const char *event, long zone,
	    int *fenced, int *seen);

/* Where Redis does not see every sale of a zone: what the broker may hold
 * of sales nobody else knows of, from the queues' statistics (ctl/sold.c,
 * sold_inflight: nothing read, no delivery attempt spent); a zone is then
 * unsold only if sold_inflight_none().  Returns 0, or -1 (printed). */
int	catalog_in_flight(struct ctl *ctl, struct inflight *f);

/* The current catalog from MySQL (db: the catalog account).  Returns 0, or
 * -1 (printed). */
int	catalog_current(struct ctl *ctl, struct db *d, struct catdoc *doc);
/* Makes MySQL and Redis match doc, all or nothing; prints the plan, and
 * with dry_run only the plan.  Returns CTL_OK, or CTL_FAIL (refused: each
 * offending item named; or a store failed; nothing changed either way). */
int	catalog_apply(struct ctl *ctl, struct catdoc *doc, int dry_run);
/* catalog_apply() of a change to the current catalog: reads it into doc
 * and calls edit(doc, arg) (0, or -1 printed: nothing applied) with the
 * lock held, so that two changes never undo each other.  doc (free it)
 * then holds what was applied.  Returns as catalog_apply(). */
int	catalog_edit(struct ctl *ctl, struct catdoc *doc,
	    int (*edit)(struct catdoc *, void *), void *arg, int dry_run);
/* Takes the catalog lock (MySQL GET_LOCK, up to 30 s) on d's connection
 * until d is closed.  Catalog changes, init and rebuild write the sale
 * state they read from the catalog, so each holds it: none writes what
 * another has changed since.  Returns 0, or -1 with d->errstr set. */
int	catalog_lock(struct db *d);
/* 1 if d's connection still holds it (one lost and opened again does
 * not), 0 if not, -1 with d->errstr set. */
int	catalog_lock_held(struct db *d);
/* The catalog account's MySQL connection. */
void	catalog_db_open(struct ctl *ctl, struct db *d);

#endif
