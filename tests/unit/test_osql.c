/* SPDX-License-Identifier: ISC */
/*
 * test_osql.c - unit tests of consumer/osql.c: the statements that write
 * orders (with cancellations seen before them) and cancellations.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "osql.h"
#include "unit.h"

#define O_ID	"019b6f7c-93fb-7a2e-9c41-00000000000a"
#define HASH	"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
#define HASH2	"fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210"

static void
sample_order(struct order *o)
{
	memset(o, 0, sizeof(*o));
	snprintf(o->id, sizeof(o->id), O_ID);
	snprintf(o->venue, sizeof(o->venue), "Venue1");
	snprintf(o->event, sizeof(o->event), "Event1");
	o->zone = 12;
	snprintf(o->total, sizeof(o->total), "640.00");
	snprintf(o->created, sizeof(o->created), "2026-11-27T23:54:24.123Z");
	snprintf(o->hash, sizeof(o->hash), HASH);
	o->n = 2;
	unit_sample(&o->t[0], T_ID);
	unit_sample(&o->t[1], T_ID2);
	o->t[1].col = 29;
}

static void
sample_cancel(struct cancel *c)
{
	memset(c, 0, sizeof(*c));
	snprintf(c->order, sizeof(c->order), O_ID);
	snprintf(c->event, sizeof(c->event), "Event1");
	c->zone = 12;
	snprintf(c->on, sizeof(c->on), "2026-11-28T00:01:02.345Z");
	c->n = 2;
	snprintf(c->ids[0], sizeof(c->ids[0]), T_ID);
	snprintf(c->ids[1], sizeof(c->ids[1]), T_ID2);
}

static void
test_osql_order(void **state)
{
	struct order		o;
	struct osql_order	v = { 0 };
	char			buf[OSQL_SIZE(1)];

	(void)state;
	sample_order(&o);
	v.o = &o;
	assert_int_equal(osql_cancel_lookup(&v, 1, buf, sizeof(buf)) > 0, 1);
	assert_string_equal(buf, "SELECT ticket_id, cancelled_on FROM "
	    "ticket_cancel WHERE ticket_id IN ('" T_ID "','" T_ID2 "') LOCK "
	    "IN SHARE MODE");
	assert_true(osql_orders_insert(&v, 1, buf, sizeof(buf)) > 0);
	assert_string_equal(buf, "INSERT INTO orders (order_id, venue_id, "
	    "event_id, zone_id, total, status, cancel_hash, created_on, "
	    "cancelled_on, idem_key_hash, idem_hash, idem_kind, hold_hash) "
	    "VALUES ('" O_ID
	    "','Venue1','Event1',12,640.00,'CONFIRMED','" HASH "','2026-11-27 "
	    "23:54:24.123',NULL,NULL,NULL,NULL,NULL)");
	/* a keyed sale's key goes with it as its hash (ctl/rebuild_orders.c,
	 * migration 006) */
	memcpy(o.idem_key_hash, HASH2, sizeof(HASH2));
	memcpy(o.idem_hash, HASH, sizeof(HASH));
	o.idem_kind = 'o';
	assert_true(osql_orders_insert(&v, 1, buf, sizeof(buf)) > 0);
	assert_non_null(strstr(buf, "'2026-11-27 23:54:24.123',NULL,'" HASH2
	    "','" HASH "','o',NULL)"));
	o.idem_kind = 'h';
	assert_int_equal(osql_orders_insert(&v, 1, buf, sizeof(buf)), -1);
	o.idem_kind = 'o';
	o.idem_key_hash[0] = 'A';	/* not lowercase hex */
	assert_int_equal(osql_orders_insert(&v, 1, buf, sizeof(buf)), -1);
	/* a message of 2026-12-06 carries the key: MySQL keeps nothing of it
	 * (its HMAC needs the responders' secret) */
	o.idem_key_hash[0] = '\0';
	memcpy(o.idem_key, "Key-1", 6);
	assert_true(osql_orders_insert(&v, 1, buf, sizeof(buf)) > 0);
	assert_non_null(strstr(buf, "'2026-11-27 23:54:24.123',NULL,"
	    "NULL,NULL,NULL,NULL)"));
	assert_null(strstr(buf, "Key-1"));
	memcpy(o.idem_key, "K'1", 4);
	assert_int_equal(osql_orders_insert(&v, 1, buf, sizeof(buf)), -1);
	/* one or the other, never both */
	memcpy(o.idem_key, "Key-1", 6);
	memcpy(o.idem_key_hash, HASH2, sizeof(HASH2));
	assert_int_equal(osql_orders_insert(&v, 1, buf, sizeof(buf)), -1);
	/* bought without a key */
	o.idem_kind = '\0';
	o.idem_key[0] = '\0';
	o.idem_key_hash[0] = '\0';
	assert_true(osql_orders_insert(&v, 1, buf, sizeof(buf)) > 0);
	assert_non_null(strstr(buf, "',NULL,NULL,NULL,NULL,NULL)"));
	/* a confirm's hold goes with it as its hash */
	memcpy(o.hold_hash, HASH2, sizeof(HASH2));
	assert_true(osql_orders_insert(&v, 1, buf, sizeof(buf)) > 0);
	assert_non_null(strstr(buf, "',NULL,NULL,NULL,NULL,'" HASH2 "')"));
	o.hold_hash[3] = 'G';
	assert_int_equal(osql_orders_insert(&v, 1, buf, sizeof(buf)), -1);
	o.hold_hash[0] = '\0';
	assert_true(osql_tickets_insert(&v, 1, buf, sizeof(buf)) > 0);
	assert_string_equal(buf, "INSERT INTO ticket (ticket_id, venue_id, "
	    "event_id, zone_id, row_no, col_no, price, status, created_on, "
	    "order_id, cancelled_on) VALUES ('" T_ID "','Venue1','Event1',12,"
	    "3,30,320.00,'CREATED','2026-11-27 23:54:24.123','" O_ID "',NULL),"
	    "('" T_ID2 "','Venue1','Event1',12,3,29,320.00,'CREATED',"
	    "'2026-11-27 23:54:24.123','" O_ID "',NULL)");
	/* too small a buffer, a bad value */
	assert_int_equal(osql_tickets_insert(&v, 1, buf, 64), -1);
	o.t[1].price[0] = 'x';
	assert_int_equal(osql_tickets_insert(&v, 1, buf, sizeof(buf)), -1);
}

/* A cancellation seen before its order: the tickets it names are written
 * CANCELLED, and the order too once all of them are. */
static void
test_osql_order_cancelled_first(void **state)
{
	struct order		o;
	struct osql_order	v = { 0 };
	char			buf[OSQL_SIZE(1)];

	(void)state;
	sample_order(&o);
	v.o = &o;
	assert_int_equal(osql_cancel_row(&v, 1, T_ID2,
	    "2026-11-28 00:01:02.345"), 0);
	assert_int_equal(osql_cancel_row(&v, 1, T_ID2, "yesterday"), -1);
	assert_int_equal(osql_cancel_row(&v, 1, "019b6f7c-93fb-7a2e-9c41-"
	    "0000000000ff", "2026-11-28 00:01:02.345"), -1);
	assert_true(osql_tickets_insert(&v, 1, buf, sizeof(buf)) > 0);
	assert_non_null(strstr(buf, "'CREATED','2026-11-27 23:54:24.123','"
	    O_ID "',NULL),"));
	assert_non_null(strstr(buf, "'CANCELLED','2026-11-27 23:54:24.123','"
	    O_ID "','2026-11-28 00:01:02.345')"));
	assert_true(osql_orders_insert(&v, 1, buf, sizeof(buf)) > 0);
	assert_non_null(strstr(buf, "'CONFIRMED'"));
	assert_int_equal(osql_cancel_row(&v, 1, T_ID,
	    "2026-11-28 00:03:00.000"), 0);
	assert_true(osql_orders_insert(&v, 1, buf, sizeof(buf)) > 0);
	assert_non_null(strstr(buf, "'CANCELLED','" HASH "','2026-11-27 "
	    "23:54:24.123','2026-11-28 00:03:00.000',NULL,NULL,NULL,NULL)"));
}

static void
test_osql_cancel(void **state)
{
	struct cancel		 c;
	const struct cancel	*cv[1] = { &c };
	char			 buf[OSQL_SIZE(1)];

	(void)state;
	sample_cancel(&c);
	assert_true(osql_cancel_log(cv, 1, buf, sizeof(buf)) > 0);
	assert_string_equal(buf, "INSERT IGNORE INTO ticket_cancel (ticket_id, "
	    "order_id, cancelled_on) VALUES ('" T_ID "','" O_ID "','2026-11-28 "
	    "00:01:02.345'),('" T_ID2 "','" O_ID "','2026-11-28 "
	    "00:01:02.345')");
	assert_true(osql_cancel_tickets(&c, buf, sizeof(buf)) > 0);
	assert_string_equal(buf, "UPDATE ticket SET status = 'CANCELLED', "
	    "cancelled_on = CASE ticket_id WHEN '" T_ID "' THEN '2026-11-28 "
	    "00:01:02.345' WHEN '" T_ID2 "' THEN '2026-11-28 00:01:02.345' "
	    "END WHERE ticket_id IN ('" T_ID "','" T_ID2 "') AND order_id = '"
	    O_ID "' AND status <> 'CANCELLED'");
	/* a ticket cancelled before on its own keeps its stamp */
	snprintf(c.own[0], sizeof(c.own[0]), "2026-11-27T23:59:58.001Z");
	assert_true(osql_cancel_log(cv, 1, buf, sizeof(buf)) > 0);
	assert_string_equal(buf, "INSERT IGNORE INTO ticket_cancel (ticket_id, "
	    "order_id, cancelled_on) VALUES ('" T_ID "','" O_ID "','2026-11-27 "
	    "23:59:58.001'),('" T_ID2 "','" O_ID "','2026-11-28 "
	    "00:01:02.345')");
	assert_true(osql_cancel_tickets(&c, buf, sizeof(buf)) > 0);
	assert_non_null(strstr(buf, "CASE ticket_id WHEN '" T_ID "' THEN "
	    "'2026-11-27 23:59:58.001' WHEN '" T_ID2 "' THEN '2026-11-28 "
	    "00:01:02.345' END"));
	/* the order gets its last ticket's, whatever the messages' order */
	assert_true(osql_cancel_order(&c, buf, sizeof(buf)) > 0);
	assert_non_null(strstr(buf, "o.cancelled_on = (SELECT "
	    "MAX(t.cancelled_on) FROM ticket t WHERE t.order_id = "
	    "o.order_id)"));
	snprintf(c.own[0], sizeof(c.own[0]), "2026-11-27' OR 1=1 -- ");
	assert_int_equal(osql_cancel_tickets(&c, buf, sizeof(buf)), -1);
	assert_int_equal(osql_cancel_log(cv, 1, buf, sizeof(buf)), -1);
	c.own[0][0] = '\0';
	assert_true(osql_cancel_order(&c, buf, sizeof(buf)) > 0);
	assert_non_null(strstr(buf, "NOT EXISTS (SELECT 1 FROM ticket t WHERE "
	    "t.order_id = o.order_id AND t.status <> 'CANCELLED')"));
	snprintf(c.ids[1], sizeof(c.ids[1]), "x' OR 1=1 -- ");
	assert_int_equal(osql_cancel_tickets(&c, buf, sizeof(buf)), -1);
	assert_int_equal(osql_cancel_log(cv, 1, buf, sizeof(buf)), -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_osql_order),
		cmocka_unit_test(test_osql_order_cancelled_first),
		cmocka_unit_test(test_osql_cancel),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
