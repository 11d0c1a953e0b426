/* SPDX-License-Identifier: ISC */
/*
 * fuzz_replay.c - libFuzzer harness for what a keyed replay reads back out
 * of Redis (fcgi/ticket/sale.c): the first sale's order message,
 * sale_from_replay(), and a keyed hold's record "<holdId> <expires ms>
 * <total> <r c ...>", sale_hold_from_replay().  Redis holds what
 * lua/order.lua wrote, but a record damaged by hand or by an older version
 * must not crash a responder.
 *
 * Besides crashes and sanitizer reports it checks properties:
 *   - an accepted message names an order and a first ticket of UUID length
 *     and its head and tickets are within the message;
 *   - an accepted hold record fills every field within its size.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "fuzz.h"
#include "sale.h"

static const char SECRET[] = "0123456789abcdef0123456789abcdef";

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sale	s;

	memset(&s, 0, sizeof(s));
	s.replay = fuzz_dup_str(data, size);
	s.replay_kind = 'o';
	if (sale_from_replay(&s, SECRET) == 0) {
		CHECK(strlen(s.order_id) == UUID_LEN);
		CHECK(strlen(s.tids[0]) == UUID_LEN);
		CHECK(s.head != NULL && strlen(s.head) < size);
		CHECK(s.tickets != NULL && strlen(s.tickets) < size);
		CHECK(strlen(s.token) == TOKEN_LEN);
		CHECK(s.kind == 'o');
	}
	sale_free(&s);

	memset(&s, 0, sizeof(s));
	s.replay = fuzz_dup_str(data, size);
	if (sale_hold_from_replay(&s) == 0) {
		CHECK(s.hold_id[0] != '\0' && strlen(s.hold_id) < sizeof(s.hold_id));
		CHECK(s.total[0] != '\0' && strlen(s.total) < sizeof(s.total));
		CHECK(strlen(s.held) < sizeof(s.held));
	}
	sale_free(&s);
	return 0;
}
