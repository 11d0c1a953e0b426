/* SPDX-License-Identifier: ISC */
/*
 * unit.h - what the unit tests share: a sample ticket and its ids, JSON
 * look-up.  Linked into every unit test (tests/unit/unit.c).
 */
#ifndef BOX_UNIT_H
#define BOX_UNIT_H

#include "ticket.h"

#define T_ID	"019b6f7c-93fb-7a2e-9c41-0123456789ab"
#define T_ID2	"019b6f7c-93fb-7a2e-9c41-0123456789ac"

struct json_object;

/* The sample sale: Venue1/Event1, zone 12, row 3, column 30, 320.00,
 * created 2026-11-27T23:54:24.123Z, with ticket id id. */
void	unit_sample(struct ticket *t, const char *id);
/* The value at the path of object keys a[.b[.c]] (NULL ends it), or NULL. */
struct json_object *unit_jpath(struct json_object *o, const char *a,
	    const char *b, const char *c);

#endif
