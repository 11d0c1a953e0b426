/* SPDX-License-Identifier: ISC */
/*
 * purchase.h - parse and validate a purchase request: the JSON body of
 * POST /tickets and the legacy parameters of POST /ticket.
 * Pure functions, no I/O; unit-tested and fuzzed.
 */
#ifndef BOX_PURCHASE_H
#define BOX_PURCHASE_H

#include <stddef.h>

#include "valid.h"

#define BODY_MAX	4096	/* request body cap (docs/api.md) */
#define JSON_DEPTH_MAX	16	/* nesting accepted in a request body */
#define FORM_VALUE_MAX	128	/* longest legacy parameter value */

struct purchase {
	char	venue[ID_MAX + 1];
	char	event[ID_MAX + 1];
	long	zone;
	long	row;
	long	col;
};

#define ORDER_SEATS_MAX	10	/* seats of one order (CONTRACT.md section 7) */
#define TOKEN_LEN	22	/* cancelToken: 128 bits, base64url */
/* holdId: a token (128 random bits) and 3 characters that carry the zone's
 * slot (keys_id_stamp()); holdIds made before 2026-12-05 are 22 characters,
 * 14 of their bits the slot, and are still taken. */
#define HOLD_ID_LEN	(TOKEN_LEN + 3)
#define HOLD_ID_OLD_LEN	TOKEN_LEN

struct seat {
	long	row;
	long	col;
};

/* The body of POST /orders (and /holds): explicit seats (n of them,
 * quantity 0) or best available (quantity, n 0). */
struct order_req {
	char		venue[ID_MAX + 1];
	char		event[ID_MAX + 1];
	long		zone;
	int		n;
	struct seat	seats[ORDER_SEATS_MAX];
	int		quantity;
	long		hold_seconds;	/* -1: absent */
	char		hold_id[HOLD_ID_LEN + 1];	/* a confirm's hold */
};

enum purchase_err {
	PURCHASE_OK,
	PURCHASE_BAD_REQUEST,	/* not an object, missing/mistyped field, bad id */
	PURCHASE_INVALID_SEAT	/* row or column can be no seat of any zone */
};

/* Parses a JSON object body of len bytes (need not be NUL-terminated).
 * On error *why points to a static human-readable reason. */
enum purchase_err purchase_from_json(const char *body, size_t len,
	    struct purchase *p, const char **why);

/* Parses the JSON body of POST /orders into o: venueId, eventId, zoneId and
 * either "seats" (1-10 distinct {"row","column"}) or "quantity" (1-10);
 * with holds, also the optional "holdSeconds" (an integer >= 1; its upper
 * bound is the caller's setting).  Same conventions as
 * purchase_from_json(); a row or column outside 1..SEAT_MAX is
 * PURCHASE_INVALID_SEAT. */
enum purchase_err purchase_order_from_json(const char *body, size_t len,
	    int holds, struct order_req *o, const char **why);

/* Parses {"cancelToken":"..."} into tok (TOKEN_LEN chars of [A-Za-z0-9_-]).
 * Returns PURCHASE_OK or PURCHASE_BAD_REQUEST with *why set. */
enum purchase_err purchase_token_from_json(const char *body, size_t len,
	    char tok[TOKEN_LEN + 1], const char **why);

/* Parses the legacy parameters from a query string and an
 * application/x-www-form-urlencoded body (either may be NULL); a body
 * parameter wins over the same query parameter. */
enum purchase_err purchase_from_form(const char *query, size_t qlen,
	    const char *body, size_t blen, struct purchase *p, const char **why);

/* What "/holds/<holdId>[/confirm]" names. */
enum hold_path {
	HOLD_PATH_NONE,		/* not such a path */
	HOLD_PATH_HOLD,		/* /holds/<holdId> */
	HOLD_PATH_CONFIRM	/* /holds/<holdId>/confirm */
};

/* The paths of section 7 on the purchase responder (fuzzed by
 * tests/fuzz/fuzz_opath.c).  "/holds/<holdId>[/confirm]": copies the id
 * (HOLD_ID_LEN, or HOLD_ID_OLD_LEN, of [A-Za-z0-9_-]); returns what the
 * path names.
 * "<what><uuid>/cancel" (what "/orders/" or "/tickets/"): copies the
 * lowercase UUID; returns 1 if path is one, else 0. */
enum hold_path purchase_hold_path(const char *path, char id[HOLD_ID_LEN + 1]);
int	purchase_cancel_path(const char *path, const char *what,
	    char id[UUID_LEN + 1]);

/* Looks up name in an urlencoded string and percent-decodes its value into
 * out (NUL-terminated).  Returns 1 if found, 0 if absent, -1 if the value is
 * malformed (bad escape, NUL byte) or does not fit outlen. */
int	form_get(const char *s, size_t len, const char *name, char *out,
	    size_t outlen);

#endif
