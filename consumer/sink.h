/* SPDX-License-Identifier: ISC */
/*
 * sink.h - the consumer's two destinations behind struct sink (pipe.h):
 * MySQL (sink_sql.c: multi-row INSERT, one transaction per batch, the
 * double-sale alarm) and DynamoDB (sink_ddb.c: BatchWriteItem or
 * conditional PutItem, many requests in flight with curl multi).
 */
#ifndef BOX_SINK_H
#define BOX_SINK_H

#include <stddef.h>

#include "conf.h"
#include "pipe.h"

/* Each creates a sink that connects lazily (nothing is opened here) and
 * returns it, NULL if out of memory; a sink whose settings are unusable
 * has err set and errstr saying why (free it).  Free with sink_free(). */
struct sink	*sink_sql_new(const struct conf *c);
struct sink	*sink_ddb_new(const struct conf *c);
void		 sink_free(struct sink *s);

/* Records the failure of a sink: err_set() on sk's err and errstr. */
void		 sink_fail(struct sink *sk, enum err_kind kind,
		    const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Marks later items that carry the same ticket id as an earlier pending
 * one: lead[i] is the index of the first such item, or i itself.  Only
 * items in PIPE_NEW or PIPE_RETRY take part (others get lead[i] = i), and
 * only tickets and orders (a cancellation is its own leader). */
void		 sink_leaders(const struct item *items, size_t n, size_t *lead);

#endif
