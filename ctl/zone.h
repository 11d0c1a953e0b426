/* SPDX-License-Identifier: ISC */
/*
 * zone.h - one event zone as Redis holds it (catalog hash, counters, seat
 * bitmap, owner tokens, pending and claimed tickets), read by ticketctl
 * check and rebuild, and the bitmap arithmetic they share.
 */
#ifndef BOX_CTL_ZONE_H
#define BOX_CTL_ZONE_H

#include <stddef.h>

#include "db.h"
#include "keys.h"
#include "rds.h"
#include "sold.h"

/* The sale state of an event zone as its catalog hash holds it: the fields
 * status ("CANCELLED"), opens and closes (ms since the epoch) of bo:zone,
 * each "" when the field is absent. */
struct zone_sale {
	char	status[16];
	char	opens[24];
	char	closes[24];
};

struct zone_owner {
	long	bit;
	char	id[UUID_LEN + 1];
};

struct zstate {
	unsigned		 node;
	char			 tag[TAG_MAX];
	/* bo:zone: catalog as loaded */
	int			 has_zone;
	char			 venue[ID_MAX + 1];
	long			 rows, cols;
	char			 price[PRICE_MAX];
	struct zone_sale	 sale;
	/* bo:left: counters; left_row[r] for r = 1..rows, -1 if absent */
	int			 has_left;
	long			 left_zone;
	long			*left_row;
	long			 nleft_row;	/* entries of left_row */
	/* bo:seat */
	unsigned char		*bits;
	size_t			 nbytes;
	/* bo:own, sorted by bit */
	struct zone_owner	*own;
	size_t			 nown;
	/* bo:pend and bo:sweep, parsed (sorted by seat) */
	struct soldv		 pending;
	long			 pending_bad;	/* entries that are no ticket */
	long			 cancels_pending; /* cancel messages */
};

/* Reads the zone of cz into z (sized by the catalog's rows and cols).
 * Returns 0, or -1 with r's err/errstr set (Redis failed, no memory). */
int	zstate_read(struct rds *r, const struct catalog_zone *cz,
	    struct zstate *z);
void	zstate_free(struct zstate *z);

/* What the catalog hash of cz must hold: status "CANCELLED" if its event
 * is, and its sale window (lua/order.lua enforces both from there). */
void	zone_sale_of(const struct catalog_zone *cz, struct zone_sale *s);

/* 1 if bit is set in a bitmap of nbytes bytes (Redis SETBIT order:
 * bit 0 is the most significant bit of byte 0). */
int	zone_bit(const unsigned char *bits, size_t nbytes, long bit);
void	zone_bit_set(unsigned char *bits, long bit);
/* The owner of bit, or NULL. */
const struct zone_owner *zone_owner_of(const struct zstate *z, long bit);

#endif
