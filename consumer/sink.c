/* SPDX-License-Identifier: ISC */
/*
 * sink.c - what both sinks share (see sink.h).
 */
#include <stdlib.h>
#include <string.h>

#include "sink.h"

void
sink_leaders(const struct item *items, size_t n, size_t *lead)
{
	size_t i, j;

	for (i = 0; i < n; i++) {
		lead[i] = i;
		if ((items[i].state != ITEM_NEW &&
		    items[i].state != ITEM_RETRY) || items[i].kind == MSG_CANCEL)
			continue;
		for (j = 0; j < i; j++)
			if (lead[j] == j && (items[j].state == ITEM_NEW ||
			    items[j].state == ITEM_RETRY) &&
			    items[j].kind == items[i].kind &&
			    strcmp(items[j].t.id, items[i].t.id) == 0) {
				lead[i] = j;
				break;
			}
	}
}

void
sink_free(struct sink *s)
{
	if (s == NULL)
		return;
	s->free(s->ctx);
	free(s);
}
