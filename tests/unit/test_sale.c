/* SPDX-License-Identifier: ISC */
/*
 * test_sale.c - unit tests of fcgi/ticket/sale.c without Redis: the names
 * of its outcomes, a sale's ids and Idempotency-Key hash (sale_new()), the
 * order read back from a keyed replay (sale_from_replay()), a keyed hold's
 * record read back (sale_hold_from_replay()).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "sale.h"
#include "unit.h"

#define SECRET	"unit-secret"
/* the token's secret and the keys' (the same, as with token_secret set) */
static const struct sale_secrets SECRETS = { SECRET, SECRET };
#define HASH64	"0123456789abcdef0123456789abcdef" \
		"0123456789abcdef0123456789abcdef"

/* The codes of lua/order.lua keep their numbers: its refuse() stores
 * them and a replay reads them back. */
static void
test_result_names(void **state)
{
	static const struct {
		enum sale_result r;
		int		 code;
		const char	*name;
	} cases[] = {
		{ SALE_OK, 0, "OK" },
		{ SALE_SEAT_TAKEN, 1, "SEAT_TAKEN" },
		{ SALE_ZONE_SOLD_OUT, 2, "ZONE_SOLD_OUT" },
		{ SALE_ROW_SOLD_OUT, 3, "ROW_SOLD_OUT" },
		{ SALE_NOT_FOUND, 4, "NOT_FOUND" },
		{ SALE_INVALID_SEAT, 5, "INVALID_SEAT" },
		{ SALE_NO_COUNTERS, 6, "NO_COUNTERS" },
		{ SALE_CANCELLED, 7, "CANCELLED" },
		{ SALE_NOT_ON_SALE, 8, "NOT_ON_SALE" },
		{ SALE_CLOSED, 9, "SALE_CLOSED" },
		{ SALE_BAD_CATALOG, 10, "BAD_CATALOG" },
		{ SALE_NOT_ADJACENT, 11, "NOT_ADJACENT" },
		{ SALE_KEY_REUSED, 20, "KEY_REUSED" },
		{ SALE_IN_PROGRESS, 21, "IN_PROGRESS" },
		{ SALE_REPLAY, 22, "REPLAY" },
		{ SALE_REFUSED, 23, "REFUSED" },
		{ SALE_HOLD_EXPIRED, 25, "HOLD_EXPIRED" },
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_int_equal(cases[i].r, cases[i].code);
		assert_string_equal(sale_result_str(cases[i].r),
		    cases[i].name);
	}
	assert_string_equal(sale_result_str(SALE_ERROR), "ERROR");
	assert_string_equal(sale_result_str(SALE_IN_DOUBT), "IN_DOUBT");
	assert_string_equal(sale_result_str((enum sale_result)24), "?");
	assert_string_equal(sale_result_str(SALE__MAX), "?");
	assert_string_equal(sale_release_str(RELEASE_KEPT), "KEPT");
	assert_string_equal(sale_release_str((enum sale_release)3), "?");
	assert_string_equal(sale_lookup_str(LOOKUP_UNKNOWN), "UNKNOWN");
	assert_string_equal(sale_end_hold_str(END_HOLD_EXPIRED), "EXPIRED");
	assert_string_equal(sale_end_hold_str(END_HOLD_CONFIRMING),
	    "CONFIRMING");
	assert_string_equal(sale_end_hold_str(END_HOLD_FENCED), "FENCED");
	assert_string_equal(sale_end_hold_str(END_HOLD_ERROR), "ERROR");
	assert_string_equal(sale_end_hold_str((enum sale_end_hold)7), "?");
}

static void
order_of(struct order_req *o, int n)
{
	int i;

	memset(o, 0, sizeof(*o));
	strcpy(o->venue, "Venue1");
	strcpy(o->event, "Event1");
	o->zone = 12;
	o->n = n;
	for (i = 0; i < n; i++) {
		o->seats[i].row = 3;
		o->seats[i].col = 30 + i;
	}
	o->hold_seconds = -1;
}

static int
ends_with(const char *s, const char *tail)
{
	size_t n = strlen(s), t = strlen(tail);

	return n >= t && strcmp(s + n - t, tail) == 0;
}

/* A keyed request: its key in the zone's idem key, the hash of kind and
 * body (the same for the same request, another for another), the token
 * derived from the secret.  Without a key: no hash, a random token. */
static void
test_new(void **state)
{
	struct order_req o;
	struct sale	 a, b, c;
	struct iovec	 w[1];
	char		 tok[TOKEN_LEN + 1], body[] = "{\"x\":1}";
	char		 other[] = "{\"x\":2}";
	int		 i;

	(void)state;
	order_of(&o, 3);
	w[0].iov_base = body;
	w[0].iov_len = strlen(body);
	assert_int_equal(sale_new(&a, &o, 'o', "k1", w, 1, &SECRETS), 0);
	assert_int_equal(sale_new(&b, &o, 'o', "k1", w, 1, &SECRETS), 0);
	assert_string_equal(a.tag, "Event1:12");
	assert_string_equal(a.idem, "bo:idem:{Event1:12}:k1");
	/* HMAC-SHA256("unit-secret", "idem:k1") (Python's hmac agrees) */
	assert_string_equal(a.idem_hashed, "bo:idem:{Event1:12}:#"
	    "046b810d89386b0005ae1ff4d587e9acc9f1889c1054f3079df9ced37c3d3ac2");
	assert_int_equal(strlen(a.ihash), TOKEN_HASH_LEN);
	assert_string_equal(a.ihash, b.ihash);
	assert_int_equal(token_for(SECRET, a.order_id, tok), 0);
	assert_string_equal(a.token, tok);
	assert_int_equal(a.n, 3);
	for (i = 0; i < a.n; i++)
		assert_int_equal(strlen(a.tids[i]), UUID_LEN);
	assert_string_not_equal(a.tids[0], a.tids[1]);
	assert_string_not_equal(a.order_id, b.order_id);

	w[0].iov_base = other;
	assert_int_equal(sale_new(&c, &o, 'o', "k1", w, 1, &SECRETS), 0);
	assert_string_not_equal(a.ihash, c.ihash);
	w[0].iov_base = body;
	assert_int_equal(sale_new(&c, &o, 't', "k1", w, 1, &SECRETS), 0);
	assert_string_not_equal(a.ihash, c.ihash);	/* another kind */

	assert_int_equal(sale_new(&c, &o, 'o', NULL, w, 1, &SECRETS), 0);
	assert_string_equal(c.ihash, "");
	assert_string_equal(c.idem, "bo:idem:{Event1:12}:");
	assert_string_equal(c.idem_hashed, "bo:idem:{Event1:12}:#");
	/* token_secret not set: each process draws its own token secret, and
	 * yet every one names a key alike (its HMAC under "") */
	{
		const struct sale_secrets p1 = { "drawn-1", "" };
		const struct sale_secrets p2 = { "drawn-2", "" };

		assert_int_equal(sale_new(&a, &o, 'o', "k1", w, 1, &p1), 0);
		assert_int_equal(sale_new(&b, &o, 'o', "k1", w, 1, &p2), 0);
		assert_string_equal(a.idem_hashed, b.idem_hashed);
		assert_int_equal(token_for("drawn-1", a.order_id, tok), 0);
		assert_string_equal(a.token, tok);
	}
	assert_string_equal(c.hold_hash, "");
	assert_int_equal(token_for(SECRET, c.order_id, tok), 0);
	assert_string_not_equal(c.token, tok);
	assert_int_equal(strlen(c.hash), TOKEN_HASH_LEN);
	assert_true(ends_with(a.created, "Z"));
	/* a confirm: the SHA-256 of its hold's id (sha256("abc")) */
	memcpy(o.hold_id, "abc", 4);
	assert_int_equal(sale_new(&c, &o, 'c', NULL, w, 1, &SECRETS), 0);
	assert_string_equal(c.hold_id, "abc");
	assert_string_equal(c.hold_hash, "ba7816bf8f01cfea414140de5dae2223b003"
	    "61a396177a9cb410ff61f20015ad");
	o.hold_id[0] = '\0';
}

/* The order message of a keyed sale, read back for its replay. */
static void
test_from_replay(void **state)
{
	static const struct {
		const char	*msg;
		int		 ok;
	} cases[] = {
		{ "{\"type\":\"order\",\"orderId\":\"" T_ID "\",\"venueId\":"
		    "\"Venue1\",\"cancelHash\":\"" HASH64 "\",\"tickets\":[{"
		    "\"ticketId\":\"" T_ID2 "\",\"row\":3}]}", 1 },
		/* a keyed sale's message: its key before the tickets */
		{ "{\"type\":\"order\",\"orderId\":\"" T_ID "\",\"venueId\":"
		    "\"Venue1\",\"cancelHash\":\"" HASH64 "\",\"idempotency\":{"
		    "\"key\":\"k-1\",\"hash\":\"" HASH64 "\",\"kind\":\"t\"},"
		    "\"tickets\":[{\"ticketId\":\"" T_ID2 "\",\"row\":3}]}", 1 },
		{ "{\"type\":\"order\",\"orderId\":\"" T_ID "\",\"venueId\":"
		    "\"Venue1\",\"cancelHash\":\"" HASH64 "\",\"idempotency\":{"
		    "\"keyHash\":\"" HASH64 "\",\"hash\":\"" HASH64 "\",\"kind\":"
		    "\"o\"},\"tickets\":[{\"ticketId\":\"" T_ID2 "\",\"row\":3}]}",
		    1 },
		/* a confirm's: its hold's hash, after a key if any */
		{ "{\"type\":\"order\",\"orderId\":\"" T_ID "\",\"venueId\":"
		    "\"Venue1\",\"cancelHash\":\"" HASH64 "\",\"idempotency\":{"
		    "\"keyHash\":\"" HASH64 "\",\"hash\":\"" HASH64 "\",\"kind\":"
		    "\"c\"},\"holdHash\":\"" HASH64 "\",\"tickets\":[{\"ticketId"
		    "\":\"" T_ID2 "\",\"row\":3}]}", 1 },
		{ "{\"type\":\"order\",\"orderId\":\"" T_ID "\",\"venueId\":"
		    "\"Venue1\",\"cancelHash\":\"" HASH64 "\",\"holdHash\":\""
		    HASH64 "\",\"tickets\":[{\"ticketId\":\"" T_ID2 "\",\"row\":"
		    "3}]}", 1 },
		{ "{\"type\":\"order\",\"orderId\":\"" T_ID "\",\"venueId\":"
		    "\"Venue1\",\"cancelHash\":\"" HASH64 "\",\"holdHash\":\"ab"
		    "\",\"tickets\":[{\"ticketId\":\"" T_ID2 "\",\"row\":3}]}",
		    0 },			/* a hash cut short */
		{ "{\"type\":\"order\",\"orderId\":\"" T_ID "\",\"cancelHash"
		    "\":\"" HASH64 "\",\"idempotency\":{\"key\":\"k-1\"\"tickets"
		    "\":[{\"ticketId\":\"" T_ID2 "\"}]}", 0 },	/* never closed */
		{ "{\"type\":\"order\",\"orderId\":\"" T_ID "\",\"tickets\":"
		    "[{\"ticketId\":\"" T_ID2 "\"}]}", 0 },	/* no hash */
		{ "{\"type\":\"ticket\",\"orderId\":\"" T_ID "\"}", 0 },
		{ "{\"type\":\"order\",\"orderId\":\"" T_ID "\",\"cancelHash"
		    "\":\"" HASH64 "\",\"tickets\":[{\"ticketId\":\"019b\"}]}",
		    0 },			/* ticket id cut short */
	};
	struct sale	s;
	char		tok[TOKEN_LEN + 1];
	size_t		i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		memset(&s, 0, sizeof(s));
		s.replay = strdup(cases[i].msg);
		s.replay_kind = 't';
		assert_non_null(s.replay);
		if (!cases[i].ok) {
			assert_int_not_equal(sale_from_replay(&s, SECRET), 0);
			sale_free(&s);
			continue;
		}
		assert_int_equal(sale_from_replay(&s, SECRET), 0);
		assert_string_equal(s.order_id, T_ID);
		assert_string_equal(s.tids[0], T_ID2);
		assert_int_equal(s.kind, 't');
		assert_string_equal(s.head, "\"orderId\":\"" T_ID "\","
		    "\"venueId\":\"Venue1\"");
		assert_string_equal(s.tickets, "\"tickets\":[{\"ticketId\":\""
		    T_ID2 "\",\"row\":3}]");
		assert_int_equal(token_for(SECRET, T_ID, tok), 0);
		assert_string_equal(s.token, tok);
		sale_free(&s);
	}
}

/* The record of a keyed hold, read back for its replay. */
static void
test_hold_from_replay(void **state)
{
	static const char *const bad[] = {
		"", "Z9lcS81-_79QFLgsZmQmjA", "Z9lcS81-_79QFLgsZmQmjA 1764",
		"Z9lcS81-_79QFLgsZmQmjA x 960.00 1 14",
		"Z9lcS81-_79QFLgsZmQmjA 1764 960.00",
		" 1764 960.00 1 14",
		"Z9lcS81-_79QFLgsZmQmjAZ9lcS81-_79Q 1764 9.00 1 1",
	};
	struct sale	s;
	size_t		i;

	(void)state;
	memset(&s, 0, sizeof(s));
	s.replay = strdup("Z9lcS81-_79QFLgsZmQmjA 1764631838952 960.00 "
	    "1 14 1 15 1 16");
	assert_non_null(s.replay);
	assert_int_equal(sale_hold_from_replay(&s), 0);
	assert_string_equal(s.hold_id, "Z9lcS81-_79QFLgsZmQmjA");
	assert_true(s.expires_ms == 1764631838952LL);
	assert_string_equal(s.total, "960.00");
	assert_string_equal(s.held, "1 14 1 15 1 16");
	sale_free(&s);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		memset(&s, 0, sizeof(s));
		s.replay = strdup(bad[i]);
		assert_non_null(s.replay);
		assert_int_not_equal(sale_hold_from_replay(&s), 0);
		sale_free(&s);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_result_names),
		cmocka_unit_test(test_new),
		cmocka_unit_test(test_from_replay),
		cmocka_unit_test(test_hold_from_replay),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
