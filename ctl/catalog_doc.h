/* SPDX-License-Identifier: ISC */
/*
 * catalog_doc.h - the catalog document of docs/catalog.md (venues with their
 * zones, events with status, closesAt and onSale windows): parser,
 * validation, canonical writer and lookups.  No I/O besides the FILE the
 * writer is given: unit-tested (tests/unit/test_catalog_doc.c) and fuzzed
 * (tests/fuzz/fuzz_catalog.c).
 *
 * A parsed document is canonical: venues, zones, events and windows sorted
 * by id, prices in cents, instants in ms since the epoch, so that two
 * documents compare item by item.
 */
#ifndef BOX_CTL_CATALOG_DOC_H
#define BOX_CTL_CATALOG_DOC_H

#include <stddef.h>
#include <stdio.h>

#include "msg.h"
#include "valid.h"

#define CATDOC_BYTES_MAX	(8L * 1024 * 1024)	/* a document file */
#define CATDOC_DEPTH_MAX	8			/* JSON nesting */
#define CATDOC_VENUES_MAX	1000
#define CATDOC_ZONES_MAX	1000			/* per venue */
#define CATDOC_EVENTS_MAX	10000
#define CATDOC_ONSALE_MAX	1000			/* windows per event */
#define CATDOC_NAME_MAX		200			/* bytes */
#define CATDOC_TYPE_MAX		64
#define CATDOC_SIDE_MAX		10000			/* rows, columns */
/* Seats of a zone (rows x columns), at most: its seat map (GET
 * /get/events/{e}/zones/{z}/seats, one row of about 45 bytes + columns
 * each) stays under 1.5 MB, well within one answer's 8 MiB, and a request
 * for it reads at most 125 kB of bitmap from Redis.  10000 x 10000 seats
 * would be a 100 MB answer, refused (500) every time after reading 12.5 MB. */
#define CATDOC_ZONE_SEATS_MAX	1000000L
#define CATDOC_ZONE_ID_MAX	2147483647L
#define CATDOC_CENTS_MAX	9999999999LL		/* DECIMAL(10,2) */
/* A seat's price in a document, at most 9999999.99: an order of
 * ORDER_TICKETS_MAX seats at that price must fit its total, DECIMAL(10,2)
 * in MySQL and 8 integer digits in the consumer's parser; a dearer zone
 * would sell orders that can never be persisted. */
#define CATDOC_PRICE_CENTS_MAX	(CATDOC_CENTS_MAX / ORDER_TICKETS_MAX)
#define CATDOC_PRICE_LEN	16			/* "99999999.99" */

struct catdoc_zone {
	long		 zone;
	long		 rows;
	long		 cols;
	long long	 cents;
};

struct catdoc_venue {
	char			 id[ID_MAX + 1];
	char			 name[CATDOC_NAME_MAX + 1];
	struct catdoc_zone	*zones;
	size_t			 nzones;
};

struct catdoc_onsale {
	long		 from;
	long		 to;
	long long	 opens_ms;
};

struct catdoc_event {
	char			 id[ID_MAX + 1];
	char			 venue[ID_MAX + 1];
	char			 name[CATDOC_NAME_MAX + 1];
	char			 type[CATDOC_TYPE_MAX + 1];
	long long		 date_ms;	/* whole seconds */
	int			 cancelled;	/* status CANCELLED */
	long long		 closes_ms;	/* -1: no end */
	struct catdoc_onsale	*onsale;
	size_t			 nonsale;
};

struct catdoc {
	struct catdoc_venue	*venues;
	size_t			 nvenues;
	struct catdoc_event	*events;
	size_t			 nevents;
};

/* Parses and validates a document of len bytes into doc (zeroed first;
 * the caller frees it with catdoc_free() whatever the result).  Returns 0,
 * or -1 with a message naming the item at fault in err. */
int	catdoc_parse(const char *buf, size_t len, struct catdoc *doc,
	    char *err, size_t errlen);
/* Sorts every list and checks what spans items: unique ids, each event's
 * venue present, windows that do not overlap.  catdoc_parse() calls it;
 * builders of a document from elsewhere (MySQL) call it too.  Returns 0 or
 * -1 with err set. */
int	catdoc_check(struct catdoc *doc, char *err, size_t errlen);
/* Writes doc as a JSON document that catdoc_parse() reads back equal.
 * Returns 0 or -1 (write error). */
int	catdoc_write(const struct catdoc *doc, FILE *f);
void	catdoc_free(struct catdoc *doc);

/* Lookups in a checked document; NULL if absent. */
const struct catdoc_venue *catdoc_venue(const struct catdoc *doc,
	    const char *id);
const struct catdoc_zone *catdoc_zone(const struct catdoc_venue *v,
	    long zone);
struct catdoc_event *catdoc_event(const struct catdoc *doc, const char *id);
/* When zone of e opens (ms), or -1 if no window names it. */
long long catdoc_opens(const struct catdoc_event *e, long zone);
/* Writes cents as "320.00". */
void	catdoc_price(long long cents, char out[CATDOC_PRICE_LEN]);
/* Parses "320.00" (the MySQL text of a DECIMAL) into cents; 0 or -1. */
int	catdoc_cents(const char *s, long long *cents);

#endif
