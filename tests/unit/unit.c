/* SPDX-License-Identifier: ISC */
/*
 * unit.c - what the unit tests share (see unit.h).
 */
#include <stdio.h>
#include <string.h>

#include <json-c/json.h>

#include "unit.h"

void
unit_sample(struct ticket *t, const char *id)
{
	memset(t, 0, sizeof(*t));
	snprintf(t->id, sizeof(t->id), "%s", id);
	snprintf(t->venue, sizeof(t->venue), "Venue1");
	snprintf(t->event, sizeof(t->event), "Event1");
	t->zone = 12;
	t->row = 3;
	t->col = 30;
	snprintf(t->price, sizeof(t->price), "320.00");
	snprintf(t->created, sizeof(t->created), "2026-11-27T23:54:24.123Z");
}

struct json_object *
unit_jpath(struct json_object *o, const char *a, const char *b, const char *c)
{
	struct json_object *v = o;

	if (a != NULL && !json_object_object_get_ex(v, a, &v))
		return NULL;
	if (b != NULL && !json_object_object_get_ex(v, b, &v))
		return NULL;
	if (c != NULL && !json_object_object_get_ex(v, c, &v))
		return NULL;
	return v;
}
