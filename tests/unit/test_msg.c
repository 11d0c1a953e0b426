/* SPDX-License-Identifier: ISC */
/*
 * test_msg.c - unit tests of shared/msg.c: the three messages of the
 * queues (round-1 ticket, order, cancellation) and what makes each poison.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "msg.h"
#include "unit.h"

#define O_ID	"019b6f7c-93fb-7a2e-9c41-00000000000a"
#define HASH	"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
#define HASH2	"fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210"
#define TKT(id, oid, col) "{\"ticketId\":\"" id "\",\"orderId\":\"" oid "\"," \
	"\"venueId\":\"Venue1\",\"eventId\":\"Event1\",\"zoneId\":12," \
	"\"row\":3,\"column\":" col ",\"price\":320.00,\"status\":\"CREATED\"," \
	"\"createdOn\":\"2026-11-27T23:54:24.123Z\"}"
#define ORDER(tickets) "{\"type\":\"order\",\"orderId\":\"" O_ID "\"," \
	"\"venueId\":\"Venue1\",\"eventId\":\"Event1\",\"zoneId\":12," \
	"\"status\":\"CONFIRMED\",\"total\":640.00,\"createdOn\":" \
	"\"2026-11-27T23:54:24.123Z\",\"cancelHash\":\"" HASH "\"," \
	"\"tickets\":[" tickets "]}"
/* a keyed sale's order: its Idempotency-Key before the tickets */
#define KEYED(idem) "{\"type\":\"order\",\"orderId\":\"" O_ID "\"," \
	"\"venueId\":\"Venue1\",\"eventId\":\"Event1\",\"zoneId\":12," \
	"\"status\":\"CONFIRMED\",\"total\":320.00,\"createdOn\":" \
	"\"2026-11-27T23:54:24.123Z\",\"cancelHash\":\"" HASH "\"," \
	"\"idempotency\":" idem ",\"tickets\":[" TKT(T_ID, O_ID, "30") "]}"
#define CANCEL(ids) "{\"type\":\"cancel\",\"orderId\":\"" O_ID "\"," \
	"\"eventId\":\"Event1\",\"zoneId\":12,\"ticketIds\":[" ids "]," \
	"\"cancelledOn\":\"2026-11-28T00:01:02.345Z\"}"

static struct msg m;

static int
parse(const char *s, const char **why)
{
	return msg_parse(s, strlen(s), &m, why);
}

static void
test_msg_ticket(void **state)
{
	const char *why;

	(void)state;
	assert_int_equal(parse("{\"ticketId\":\"" T_ID "\",\"venueId\":"
	    "\"Venue1\",\"eventId\":\"Event1\",\"zoneId\":12,\"row\":3,"
	    "\"column\":30,\"price\":320.00,\"status\":\"CREATED\","
	    "\"createdOn\":\"2026-11-27T23:54:24.123Z\"}", &why), 0);
	assert_int_equal(m.kind, MSG_TICKET);
	assert_string_equal(m.t.id, T_ID);
	assert_int_equal(m.t.col, 30);
	assert_int_equal(parse("{\"ticketId\":\"" T_ID "\"}", &why), -1);
}

static void
test_msg_order(void **state)
{
	const char *why;

	(void)state;
	assert_int_equal(parse(ORDER(TKT(T_ID, O_ID, "30") ","
	    TKT(T_ID2, O_ID, "29")), &why), 0);
	assert_int_equal(m.kind, MSG_ORDER);
	assert_string_equal(m.t.id, O_ID);
	assert_string_equal(m.t.created, "2026-11-27T23:54:24.123Z");
	assert_int_equal(m.u.o.n, 2);
	assert_string_equal(m.u.o.total, "640.00");
	assert_string_equal(m.u.o.hash, HASH);
	assert_string_equal(m.u.o.t[1].id, T_ID2);
	assert_int_equal(m.u.o.t[1].col, 29);
	/* poison: a seat twice, a ticket twice, another order's ticket,
	 * no tickets, a bad hash, a bad status, an unknown type */
	assert_int_equal(parse(ORDER(TKT(T_ID, O_ID, "30") ","
	    TKT(T_ID2, O_ID, "30")), &why), -1);
	assert_string_equal(why, "an order holds one seat twice");
	assert_int_equal(parse(ORDER(TKT(T_ID, O_ID, "30") ","
	    TKT(T_ID, O_ID, "29")), &why), -1);
	assert_int_equal(parse(ORDER(TKT(T_ID, T_ID2, "30")), &why), -1);
	assert_string_equal(why, "a ticket's orderId is not its order's");
	assert_int_equal(parse(ORDER(""), &why), -1);
	assert_int_equal(parse("{\"type\":\"refund\"}", &why), -1);
	assert_int_equal(parse("{\"type\":1}", &why), -1);
}

/* A keyed sale's key, hash and kind; an order without one has none. */
static void
test_msg_order_idempotency(void **state)
{
	static const struct {
		const char	*idem;
		const char	*why;
	} bad[] = {
		{ "\"k1\"", "idempotency is not an object" },
		{ "{\"hash\":\"" HASH "\",\"kind\":\"o\"}",
		    "idempotency.keyHash is missing, or its key not 1-64 of "
		    "[A-Za-z0-9_-]" },
		{ "{\"key\":\"a b\",\"hash\":\"" HASH "\",\"kind\":\"o\"}",
		    "idempotency.keyHash is missing, or its key not 1-64 of "
		    "[A-Za-z0-9_-]" },
		{ "{\"keyHash\":\"0123\",\"hash\":\"" HASH "\",\"kind\":"
		    "\"o\"}",
		    "idempotency.keyHash is not 64 lowercase hex digits" },
		{ "{\"keyHash\":7,\"hash\":\"" HASH "\",\"kind\":\"o\"}",
		    "idempotency.keyHash is not 64 lowercase hex digits" },
		{ "{\"keyHash\":\"" HASH "\",\"key\":\"k1\",\"hash\":\"" HASH
		    "\",\"kind\":\"o\"}", "idempotency has both key and keyHash" },
		{ "{\"keyHash\":\"" HASH "\",\"hash\":\"0123\",\"kind\":"
		    "\"o\"}",
		    "idempotency.hash is missing or not 64 lowercase hex digits" },
		{ "{\"key\":\"k1\",\"hash\":\"0123\",\"kind\":\"o\"}",
		    "idempotency.hash is missing or not 64 lowercase hex digits" },
		{ "{\"keyHash\":\"" HASH "\",\"hash\":\"" HASH "\",\"kind\":"
		    "\"h\"}", "idempotency.kind is missing or not t, o or c" },
		{ "{\"key\":\"k1\",\"hash\":\"" HASH "\",\"kind\":\"oo\"}",
		    "idempotency.kind is missing or not t, o or c" },
	};
	const char	*why;
	size_t		 i;

	(void)state;
	/* since 2026-12-07: the key's HMAC */
	assert_int_equal(parse(KEYED("{\"keyHash\":\"" HASH2 "\",\"hash\":\""
	    HASH "\",\"kind\":\"t\"}"), &why), 0);
	assert_string_equal(m.u.o.idem_key_hash, HASH2);
	assert_string_equal(m.u.o.idem_key, "");
	assert_string_equal(m.u.o.idem_hash, HASH);
	assert_int_equal(m.u.o.idem_kind, 't');
	/* 2026-12-06: the key */
	assert_int_equal(parse(KEYED("{\"key\":\"Key_1-x\",\"hash\":\""
	    HASH "\",\"kind\":\"c\"}"), &why), 0);
	assert_string_equal(m.u.o.idem_key, "Key_1-x");
	assert_string_equal(m.u.o.idem_key_hash, "");
	assert_string_equal(m.u.o.idem_hash, HASH);
	assert_int_equal(m.u.o.idem_kind, 'c');
	assert_int_equal(m.u.o.n, 1);
	assert_int_equal(parse(ORDER(TKT(T_ID, O_ID, "30")), &why), 0);
	assert_string_equal(m.u.o.idem_key, "");
	assert_string_equal(m.u.o.idem_key_hash, "");
	assert_int_equal(m.u.o.idem_kind, 0);
	assert_string_equal(m.u.o.hold_hash, "");
	/* a confirm's: the SHA-256 of its hold's id */
	assert_int_equal(parse(KEYED("{\"keyHash\":\"" HASH2 "\",\"hash\":\""
	    HASH "\",\"kind\":\"c\"},\"holdHash\":\"" HASH2 "\""), &why), 0);
	assert_string_equal(m.u.o.hold_hash, HASH2);
	assert_int_equal(parse(KEYED("{\"keyHash\":\"" HASH2 "\",\"hash\":\""
	    HASH "\",\"kind\":\"c\"},\"holdHash\":\"ABC\""), &why), -1);
	assert_string_equal(why, "holdHash is not 64 lowercase hex digits");
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char buf[2048];

		snprintf(buf, sizeof(buf), KEYED("%s"), bad[i].idem);
		assert_int_equal(parse(buf, &why), -1);
		assert_string_equal(why, bad[i].why);
	}
}

static void
test_msg_order_max(void **state)
{
	char		 buf[MSG_JSON_MAX + 64], t[TICKET_JSON_MAX + 64];
	const char	*why;
	size_t		 off = 0;
	int		 i;

	(void)state;
	off += (size_t)snprintf(buf, sizeof(buf), "%s", ORDER(""));
	off -= 2;	/* before "]}" */
	for (i = 1; i <= ORDER_TICKETS_MAX + 1; i++) {
		snprintf(t, sizeof(t), "%s{\"ticketId\":\"019b6f7c-93fb-7a2e-"
		    "9c41-0000000001%02d\",\"orderId\":\"" O_ID "\",\"venueId\":"
		    "\"Venue1\",\"eventId\":\"Event1\",\"zoneId\":12,\"row\":3,"
		    "\"column\":%d,\"price\":320.00,\"status\":\"CREATED\","
		    "\"createdOn\":\"2026-11-27T23:54:24.123Z\"}", i > 1 ? "," :
		    "", i, i);
		off += (size_t)snprintf(buf + off, sizeof(buf) - off, "%s", t);
		snprintf(buf + off, sizeof(buf) - off, "]}");
		assert_int_equal(msg_parse(buf, off + 2, &m, &why),
		    i <= ORDER_TICKETS_MAX ? 0 : -1);
		if (i <= ORDER_TICKETS_MAX)
			assert_int_equal(m.u.o.n, (size_t)i);
	}
}

static void
test_msg_cancel(void **state)
{
	const char *why;

	(void)state;
	assert_int_equal(parse(CANCEL("\"" T_ID "\",\"" T_ID2 "\""), &why), 0);
	assert_int_equal(m.kind, MSG_CANCEL);
	assert_string_equal(m.t.id, "");
	assert_string_equal(m.t.created, "2026-11-28T00:01:02.345Z");
	assert_int_equal(m.u.c.n, 2);
	assert_string_equal(m.u.c.ids[1], T_ID2);
	assert_string_equal(m.u.c.order, O_ID);
	assert_int_equal(parse(CANCEL("\"" T_ID "\",\"" T_ID "\""), &why), -1);
	assert_int_equal(parse(CANCEL(""), &why), -1);
	assert_int_equal(parse(CANCEL("\"x\""), &why), -1);
	assert_int_equal(parse(CANCEL("7"), &why), -1);
	/* no ticketsCancelledOn (every message before it): the message's */
	assert_int_equal(parse(CANCEL("\"" T_ID "\",\"" T_ID2 "\""), &why), 0);
	assert_string_equal(cancel_on(&m.u.c, 0), "2026-11-28T00:01:02.345Z");
	assert_string_equal(cancel_on(&m.u.c, 1), "2026-11-28T00:01:02.345Z");
}

#define CANCEL_OWN(own) "{\"type\":\"cancel\",\"orderId\":\"" O_ID "\"," \
	"\"eventId\":\"Event1\",\"zoneId\":12,\"ticketIds\":[\"" T_ID "\",\"" \
	T_ID2 "\"],\"cancelledOn\":\"2026-11-28T00:01:02.345Z\"," \
	"\"ticketsCancelledOn\":" own "}"

/* A whole order's cancellation names the tickets cancelled before it on
 * their own with their own stamps (lua/cancel.lua). */
static void
test_msg_cancel_own_stamps(void **state)
{
	const char *why;

	(void)state;
	assert_int_equal(parse(CANCEL_OWN("{\"" T_ID2 "\":"
	    "\"2026-11-27T23:59:58.001Z\"}"), &why), 0);
	assert_string_equal(cancel_on(&m.u.c, 0), "2026-11-28T00:01:02.345Z");
	assert_string_equal(cancel_on(&m.u.c, 1), "2026-11-27T23:59:58.001Z");
	assert_string_equal(m.t.created, "2026-11-28T00:01:02.345Z");
	assert_int_equal(parse(CANCEL_OWN("{}"), &why), 0);
	assert_string_equal(cancel_on(&m.u.c, 1), "2026-11-28T00:01:02.345Z");
	assert_int_equal(parse(CANCEL_OWN("[]"), &why), -1);
	assert_string_equal(why, "ticketsCancelledOn is not an object");
	assert_int_equal(parse(CANCEL_OWN("{\"" O_ID "\":"
	    "\"2026-11-27T23:59:58.001Z\"}"), &why), -1);
	assert_string_equal(why,
	    "ticketsCancelledOn names a ticket not in ticketIds");
	assert_int_equal(parse(CANCEL_OWN("{\"" T_ID "\":"
	    "\"2026-02-30T23:59:58.001Z\"}"), &why), -1);
	assert_string_equal(why,
	    "ticketsCancelledOn holds a stamp that is not RFC 3339 UTC with ms");
	assert_int_equal(parse(CANCEL_OWN("{\"" T_ID "\":"
	    "\"2026-11-27T23:59:58.001Z and more\"}"), &why), -1);
	assert_int_equal(parse(CANCEL_OWN("{\"" T_ID "\":7}"), &why), -1);
}

/* s with its nth (0: first) occurrence of from replaced by to (same
 * length), in a static buffer. */
static const char *
swap(const char *s, const char *from, const char *to, int nth)
{
	static char	 buf[MSG_JSON_MAX];
	char		*p;

	assert_true(strlen(s) < sizeof(buf) && strlen(from) == strlen(to));
	memcpy(buf, s, strlen(s) + 1);
	for (p = strstr(buf, from); p != NULL && nth > 0; nth--)
		p = strstr(p + 1, from);
	assert_non_null(p);
	memcpy(p, to, strlen(to));
	return buf;
}

/* A stamp that is no real instant is poison in every message: MySQL's
 * DATETIME refuses it, and its INSERT was once retried forever. */
static void
test_msg_stamps(void **state)
{
	const char	*order = ORDER(TKT(T_ID, O_ID, "30") ","
			    TKT(T_ID2, O_ID, "29"));
	const char	*cancel = CANCEL("\"" T_ID "\"");
	const char	*stamp = "2026-11-27T23:54:24.123Z";
	const char	*why;

	(void)state;
	assert_int_equal(parse(swap(order, stamp, "2026-02-31T10:00:00.000Z",
	    0), &why), -1);
	assert_string_equal(why,
	    "createdOn is missing or not RFC 3339 UTC with ms");
	assert_int_equal(parse(swap(order, stamp, "2027-02-29T10:00:00.000Z",
	    2), &why), -1);
	assert_int_equal(parse(swap(order, stamp, "2028-02-29T10:00:00.000Z",
	    0), &why), 0);
	assert_int_equal(parse(swap(cancel, "2026-11-28T00:01:02.345Z",
	    "2026-11-28T00:01:60.345Z", 0), &why), -1);
	assert_string_equal(why,
	    "cancelledOn is missing or not RFC 3339 UTC with ms");
	assert_int_equal(parse(swap(cancel, "2026-11-28T00:01:02.345Z",
	    "2026-04-31T00:01:02.345Z", 0), &why), -1);
	assert_int_equal(parse(TKT(T_ID, O_ID, "30"), &why), 0);
	assert_int_equal(m.kind, MSG_TICKET);
	assert_int_equal(parse(swap(TKT(T_ID, O_ID, "30"), stamp,
	    "2026-06-31T10:00:00.000Z", 0), &why), -1);
}

static void
test_msg_hash(void **state)
{
	(void)state;
	assert_true(msg_hash_ok(HASH));
	assert_false(msg_hash_ok("0123"));
	assert_false(msg_hash_ok(HASH "0"));
	assert_false(msg_hash_ok("0123456789ABCDEF0123456789abcdef0123456789"
	    "abcdef0123456789abcdef"));
	assert_true(msg_idem_ok(HASH2, "", HASH, 'o'));
	assert_true(msg_idem_ok("", "Key_1-x", HASH, 'c'));
	assert_false(msg_idem_ok("", "", HASH, 'o'));
	assert_false(msg_idem_ok(HASH2, "k", HASH, 'o'));	/* both */
	assert_false(msg_idem_ok("0123", "", HASH, 'o'));
	assert_false(msg_idem_ok("", "a b", HASH, 'o'));
	assert_false(msg_idem_ok("", "k", "0123", 'o'));
	assert_false(msg_idem_ok(HASH2, "", HASH, 'h'));
	assert_false(msg_idem_ok("", "k", HASH, '\0'));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_msg_ticket),
		cmocka_unit_test(test_msg_order),
		cmocka_unit_test(test_msg_order_idempotency),
		cmocka_unit_test(test_msg_order_max),
		cmocka_unit_test(test_msg_cancel),
		cmocka_unit_test(test_msg_cancel_own_stamps),
		cmocka_unit_test(test_msg_stamps),
		cmocka_unit_test(test_msg_hash),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
