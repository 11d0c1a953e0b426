/* SPDX-License-Identifier: ISC */
/*
 * test_ddb_order.c - unit tests of consumer/ddb_order.c: the
 * TransactWriteItems of orders and cancellations, packing rules.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <json-c/json.h>

#include "ddb_order.h"
#include "unit.h"

#define O_ID	"019b6f7c-93fb-7a2e-9c41-00000000000a"
#define HASH	"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

static union msg_body ob, cb;

static void
setup(void)
{
	struct order	*o = &ob.o;
	struct cancel	*c = &cb.c;

	memset(&ob, 0, sizeof(ob));
	memset(&cb, 0, sizeof(cb));
	snprintf(o->id, sizeof(o->id), O_ID);
	snprintf(o->hash, sizeof(o->hash), HASH);
	o->n = 2;
	unit_sample(&o->t[0], T_ID);
	unit_sample(&o->t[1], T_ID2);
	o->t[1].col = 29;
	snprintf(c->order, sizeof(c->order), O_ID);
	snprintf(c->on, sizeof(c->on), "2026-11-28T00:01:02.345Z");
	c->n = 1;
	snprintf(c->ids[0], sizeof(c->ids[0]), T_ID2);
}

/* Of action i of the TransactWriteItems o: its Put's attribute attr of
 * type type (type NULL: the Put's member attr), as a string, or NULL. */
static const char *
put_field(struct json_object *o, size_t i, const char *attr, const char *type)
{
	struct json_object *v;

	if ((v = unit_jpath(o, "TransactItems", NULL, NULL)) == NULL ||
	    (v = json_object_array_get_idx(v, i)) == NULL ||
	    (v = unit_jpath(v, "Put", type != NULL ? "Item" : attr,
	    type != NULL ? attr : NULL)) == NULL)
		return NULL;
	if (type != NULL && !json_object_object_get_ex(v, type, &v))
		return NULL;
	return json_object_get_string(v);
}

static void
test_ddb_order_txn(void **state)
{
	struct ddb_msg		 m[2] = { { MSG_ORDER, &ob }, { MSG_CANCEL, &cb } };
	struct json_object	*o, *a;
	char			 buf[DDB_TXN_JSON_MAX];
	int			 len;

	(void)state;
	setup();
	assert_int_equal(ddb_msg_actions(&m[0]), 2);
	assert_int_equal(ddb_msg_actions(&m[1]), 1);
	assert_true(ddb_msg_overlap(&m[0], &m[1]));
	/* an order first as conditional puts of whole items, each the item
	 * the update below writes (the same attributes, status CREATED) */
	assert_true(ddb_txn_json("Tickets", m, 1, DDB_FORM_PUT, buf,
	    sizeof(buf)) > 0);
	assert_non_null(o = json_tokener_parse(buf));
	assert_non_null(a = unit_jpath(o, "TransactItems", NULL, NULL));
	assert_int_equal(json_object_array_length(a), 2);
	assert_null(strstr(buf, "Update"));
	assert_string_equal(put_field(o, 0, "ConditionExpression", NULL),
	    "attribute_not_exists(ticketId)");
	assert_string_equal(put_field(o, 1, "TableName", NULL), "Tickets");
	assert_string_equal(put_field(o, 1, "ticketId", "S"), T_ID2);
	assert_string_equal(put_field(o, 1, "column", "N"), "29");
	assert_string_equal(put_field(o, 0, "orderId", "S"), O_ID);
	assert_string_equal(put_field(o, 0, "cancelHash", "S"), HASH);
	assert_string_equal(put_field(o, 0, "status", "S"), "CREATED");
	assert_int_equal(json_object_object_length(unit_jpath(
	    json_object_array_get_idx(a, 0), "Put", "Item", NULL)), 11);
	json_object_put(o);
	/* a cancellation is an update in either form */
	assert_true(ddb_txn_json("Tickets", &m[1], 1, DDB_FORM_PUT, buf,
	    sizeof(buf)) > 0);
	assert_non_null(strstr(buf, "{\"Update\":"));
	assert_null(strstr(buf, "Put"));
	/* the update form: one Update per ticket */
	assert_true((len = ddb_txn_json("Tickets", m, 1, DDB_FORM_UPDATE, buf,
	    sizeof(buf))) > 0);
	assert_non_null(o = json_tokener_parse(buf));
	assert_non_null(a = unit_jpath(o, "TransactItems", NULL, NULL));
	assert_int_equal(json_object_array_length(a), 2);
	assert_non_null(strstr(buf, "#s = if_not_exists(#s, :s)"));
	assert_non_null(strstr(buf, "\":o\":{\"S\":\"" O_ID "\"}"));
	assert_non_null(strstr(buf, "\":p\":{\"N\":\"320.00\"}"));
	json_object_put(o);
	assert_true(ddb_txn_json("Tickets", &m[1], 1, DDB_FORM_UPDATE, buf,
	    sizeof(buf)) > 0);
	assert_non_null(o = json_tokener_parse(buf));
	json_object_put(o);
	assert_non_null(strstr(buf, "\"Key\":{\"ticketId\":{\"S\":\"" T_ID2
	    "\"}}"));
	assert_non_null(strstr(buf, "cancelledOn = if_not_exists(cancelledOn, "
	    ":c)"));
	assert_non_null(strstr(buf, "\":x\":{\"S\":\"CANCELLED\"}"));
	assert_non_null(strstr(buf, "\":c\":{\"S\":\"2026-11-28T00:01:02.345Z\"}"));
	/* a ticket cancelled before on its own keeps its stamp */
	snprintf(cb.c.own[0], sizeof(cb.c.own[0]), "2026-11-27T23:59:58.001Z");
	assert_true(ddb_txn_json("Tickets", &m[1], 1, DDB_FORM_UPDATE, buf,
	    sizeof(buf)) > 0);
	assert_non_null(strstr(buf, "\":c\":{\"S\":\"2026-11-27T23:59:58.001Z\"}"));
	snprintf(cb.c.own[0], sizeof(cb.c.own[0]), "2026-11-27T23:59:58\"");
	assert_int_equal(ddb_txn_json("Tickets", &m[1], 1, DDB_FORM_UPDATE, buf,
	    sizeof(buf)), -1);
	cb.c.own[0][0] = '\0';
	/* limits: too small, a bad table, a bad value */
	assert_int_equal(ddb_txn_json("Tickets", m, 1, DDB_FORM_UPDATE, buf,
	    100), -1);
	assert_int_equal(ddb_txn_json("Tickets", m, 1, DDB_FORM_PUT, buf,
	    100), -1);
	assert_int_equal(ddb_txn_json("T", m, 1, DDB_FORM_PUT, buf,
	    sizeof(buf)), -1);
	cb.c.on[0] = 'x';
	assert_int_equal(ddb_txn_json("Tickets", &m[1], 1, DDB_FORM_UPDATE,
	    buf, sizeof(buf)), -1);
	setup();
	ob.o.hash[0] = 'x';
	assert_int_equal(ddb_txn_json("Tickets", m, 1, DDB_FORM_PUT, buf,
	    sizeof(buf)), -1);
}

/* The longest transaction fits its buffer even with the longest table
 * name. */
static void
test_ddb_order_sizes(void **state)
{
	static union msg_body	 big[10];
	struct ddb_msg		 m[10];
	char			 table[256], buf[DDB_TXN_JSON_MAX];
	size_t			 k, i;

	(void)state;
	setup();
	memset(table, 'T', 255);
	table[255] = '\0';
	for (k = 0; k < 10; k++) {
		big[k] = ob;
		big[k].o.n = ORDER_TICKETS_MAX;
		for (i = 0; i < big[k].o.n; i++) {
			unit_sample(&big[k].o.t[i], T_ID);
			snprintf(big[k].o.t[i].venue, ID_MAX + 1, "%064d", 0);
			snprintf(big[k].o.t[i].event, ID_MAX + 1, "%064d", 1);
			snprintf(big[k].o.t[i].price, PRICE_MAX, "99999999.99");
			big[k].o.t[i].id[34] = (char)('0' + k);
			big[k].o.t[i].id[35] = (char)('0' + i);
			big[k].o.t[i].zone = big[k].o.t[i].row =
			    big[k].o.t[i].col = 2147483647;
		}
		m[k].kind = MSG_ORDER;
		m[k].u = &big[k];
	}
	assert_true(ddb_txn_json(table, m, 10, DDB_FORM_PUT, buf,
	    sizeof(buf)) > 0);
	assert_true(ddb_txn_json(table, m, 10, DDB_FORM_UPDATE, buf,
	    sizeof(buf)) > 0);
	big[9].o.n = ORDER_TICKETS_MAX + 1;	/* 101 actions: too many */
	assert_int_equal(ddb_txn_json(table, m, 10, DDB_FORM_PUT, buf,
	    sizeof(buf)), -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ddb_order_txn),
		cmocka_unit_test(test_ddb_order_sizes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
