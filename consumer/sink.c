/* SPDX-License-Identifier: ISC */
/*
 * sink.c - what both sinks share (see sink.h).
 */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "fmt.h"
#include "sink.h"

void
sink_leaders(const struct item *items, size_t n, size_t *lead)
{
	size_t i, j;

	for (i = 0; i < n; i++) {
		lead[i] = i;
		if ((items[i].state != PIPE_NEW &&
		    items[i].state != PIPE_RETRY) || items[i].kind == MSG_CANCEL)
			continue;
		for (j = 0; j < i; j++)
			if (lead[j] == j && (items[j].state == PIPE_NEW ||
			    items[j].state == PIPE_RETRY) &&
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
	if (s->ctx != NULL)
		s->free(s->ctx);
	free(s);
}

void
sink_fail(struct sink *sk, enum err_kind kind, const char *fmt, ...)
{
	va_list ap;

	sk->err = kind;
	va_start(ap, fmt);
	fmt_vtrunc(sk->errstr, sizeof(sk->errstr), fmt, ap);
	va_end(ap);
}
