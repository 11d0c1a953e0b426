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
 * returns it, or NULL with err set; free it with sink_free(). */
struct sink	*sink_sql_new(const struct conf *c, char *err, size_t errlen);
struct sink	*sink_ddb_new(const struct conf *c, char *err, size_t errlen);
void		 sink_free(struct sink *s);

/* Marks later items that carry the same ticket id as an earlier pending
 * one: lead[i] is the index of the first such item, or i itself.  Only
 * items in ITEM_NEW or ITEM_RETRY take part (others get lead[i] = i), and
 * only tickets and orders (a cancellation is its own leader). */
void		 sink_leaders(const struct item *items, size_t n, size_t *lead);

#endif
