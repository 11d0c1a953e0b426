/* SPDX-License-Identifier: ISC */
/*
 * route.h - the query responder's router (docs/api.md): request method,
 * path and query string in, endpoint and validated parameters out.
 * Pure: no I/O, no allocation; unit-tested and fuzzed
 * (tests/fuzz/fuzz_route.c).
 *
 *   /get/venues                                   ROUTE_VENUES
 *   /get/venues/{venueId}/events                  ROUTE_VENUE_EVENTS
 *   /get/events/{eventId}                         ROUTE_EVENT
 *   /get/events/{eventId}/zones/{zoneId}/seats    ROUTE_SEATS
 *   /get/events/{eventId}/tickets?zoneId=&limit=&after=   ROUTE_TICKETS
 *   /get/events/{eventId}/stats                   ROUTE_STATS
 *   /get/tickets/{ticketId}                       ROUTE_TICKET
 *   /get/count/{eventId}                          ROUTE_COUNT
 *   /get/money/{venueId}/{eventId}                ROUTE_MONEY
 *   /get/health                                   ROUTE_HEALTH
 *   /get/orders/{orderId}                         ROUTE_ORDER
 *
 * Path segments and query values are percent-decoded before they are
 * checked.  The checks run in this order: path shape (else
 * ROUTE_ERR_NOT_FOUND), method GET or HEAD (else ROUTE_ERR_METHOD), then
 * every parameter (else ROUTE_ERR_BAD_REQUEST).
 */
#ifndef BOX_ROUTE_H
#define BOX_ROUTE_H

#include <stddef.h>

#include "valid.h"

#define ROUTE_PATH_MAX		512	/* longer paths: ROUTE_ERR_NOT_FOUND */
#define ROUTE_QUERY_MAX		1024	/* longer query strings: BAD_REQUEST,
					   on every endpoint */
#define ROUTE_SEGS_MAX		8	/* path segments after /get */
#define ROUTE_SEG_MAX		128	/* decoded segment or query value */
#define ROUTE_LIMIT_DEFAULT	100	/* tickets per page */
#define ROUTE_LIMIT_MAX		1000

enum route_ep {
	ROUTE_VENUES,
	ROUTE_VENUE_EVENTS,
	ROUTE_EVENT,
	ROUTE_SEATS,
	ROUTE_TICKETS,
	ROUTE_STATS,
	ROUTE_TICKET,
	ROUTE_COUNT,
	ROUTE_MONEY,
	ROUTE_HEALTH,
	ROUTE_ORDER,
	ROUTE__MAX
};

enum route_err {
	ROUTE_OK,
	ROUTE_ERR_NOT_FOUND,	/* no such path */
	ROUTE_ERR_METHOD,	/* path known, method not GET/HEAD */
	ROUTE_ERR_BAD_REQUEST	/* a parameter is malformed */
};

struct route {
	enum route_ep	ep;
	int		head;			/* HEAD: answer without a body
						   (set on every outcome) */
	char		venue[ID_MAX + 1];	/* VENUE_EVENTS, MONEY */
	char		event[ID_MAX + 1];	/* every /events/.., COUNT, MONEY */
	long		zone;			/* SEATS; TICKETS filter, 0 = all */
	char		ticket[UUID_LEN + 1];	/* TICKET, lowercased */
	char		order[UUID_LEN + 1];	/* ORDER, lowercased */
	long		limit;			/* TICKETS */
	char		after[UUID_LEN + 1];	/* TICKETS cursor, "" = first page */
};

/* Routes one request.  method and path are NUL-terminated (path without
 * the query string, NULL: none that can be read, ROUTE_ERR_NOT_FOUND);
 * query may be NULL or "".  Fills *rt on ROUTE_OK, rt->head always; on
 * any error sets *why to a static human-readable reason.  Returns one of
 * enum route_err. */
enum route_err route_parse(const char *method, const char *path,
	    const char *query, struct route *rt, const char **why);

/* The path pattern of an endpoint ("/get/venues", ...), for logs and docs. */
const char *route_name(enum route_ep ep);

/* Percent-decodes src[0..len) into dst (size bytes with the NUL); with
 * plus_space, '+' becomes ' ' (query strings).  Returns the decoded length,
 * or -1 if an escape is malformed, decodes to NUL, or dst is too small. */
int	route_decode(const char *src, size_t len, char *dst, size_t size,
	    int plus_space);

#endif
