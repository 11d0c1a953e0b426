/* SPDX-License-Identifier: ISC */
/*
 * test_ddb_item.c - unit tests of consumer/ddb_item.c: the DynamoDB item of
 * a ticket, the conditional PutItem, BatchWriteItem and its
 * UnprocessedItems, the table name check.
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

#include "ddb_item.h"
#include "ticket.h"
#include "unit.h"

#define T_ITEM	"{\"ticketId\":{\"S\":\"" T_ID "\"}," \
		"\"venueId\":{\"S\":\"Venue1\"},\"eventId\":{\"S\":\"Event1\"}," \
		"\"zoneId\":{\"N\":\"12\"},\"row\":{\"N\":\"3\"}," \
		"\"column\":{\"N\":\"30\"},\"price\":{\"N\":\"320.00\"}," \
		"\"status\":{\"S\":\"CREATED\"}," \
		"\"createdOn\":{\"S\":\"2026-11-27T23:54:24.123Z\"}}"

static void
test_item_json(void **state)
{
	struct ticket	t;
	char		buf[DDB_ITEM_MAX];
	int		n;

	(void)state;
	unit_sample(&t, T_ID);
	n = ddb_item_json(&t, buf, sizeof(buf));
	assert_string_equal(buf, T_ITEM);
	assert_int_equal(n, (int)strlen(T_ITEM));
	/* every size short of the whole text fails, the exact size works */
	assert_int_equal(ddb_item_json(&t, buf, strlen(T_ITEM)), -1);
	assert_int_equal(ddb_item_json(&t, buf, strlen(T_ITEM) + 1), n);
	/* the writer's own guard: nothing that would need escaping */
	snprintf(t.venue, sizeof(t.venue), "Ven\"ue");
	assert_int_equal(ddb_item_json(&t, buf, sizeof(buf)), -1);
	unit_sample(&t, T_ID);
	snprintf(t.price, sizeof(t.price), "320");
	assert_int_equal(ddb_item_json(&t, buf, sizeof(buf)), -1);
	unit_sample(&t, "019B6F7C-93FB-7A2E-9C41-0123456789AB");
	assert_int_equal(ddb_item_json(&t, buf, sizeof(buf)), -1);
}

static void
test_put_json(void **state)
{
	static const char want[] = "{\"TableName\":\"Tickets\",\"Item\":"
	    T_ITEM ",\"ConditionExpression\":"
	    "\"attribute_not_exists(ticketId)\"}";
	struct json_object	*o;
	struct ticket		 t;
	char			 buf[DDB_PUT_MAX];
	int			 n;

	(void)state;
	unit_sample(&t, T_ID);
	n = ddb_put_json("Tickets", &t, buf, sizeof(buf));
	assert_int_equal(n, (int)strlen(want));
	assert_string_equal(buf, want);
	/* and it is JSON with the fields where DynamoDB looks for them */
	assert_non_null(o = json_tokener_parse(buf));
	assert_string_equal(json_object_get_string(unit_jpath(o,
	    "ConditionExpression", NULL, NULL)), DDB_CONDITION);
	assert_string_equal(json_object_get_string(unit_jpath(o, "Item", "price",
	    "N")), "320.00");
	assert_string_equal(json_object_get_string(unit_jpath(o, "Item", "zoneId",
	    "N")), "12");
	assert_string_equal(json_object_get_string(unit_jpath(o, "Item",
	    "ticketId", "S")), T_ID);
	assert_null(unit_jpath(o, "Item", "price", "S"));
	json_object_put(o);
	assert_int_equal(ddb_put_json("Tickets", &t, buf, strlen(want)), -1);
	assert_int_equal(ddb_put_json("Tickets", &t, buf, strlen(want) + 1),
	    n);
	assert_int_equal(ddb_put_json("Ti\"x", &t, buf, sizeof(buf)), -1);
}

static void
test_batch_json(void **state)
{
	struct ticket		 t[DDB_BATCH_MAX + 1];
	const struct ticket	*tv[DDB_BATCH_MAX + 1];
	struct json_object	*o, *list, *e;
	char			 id[UUID_LEN + 1], *buf;
	size_t			 i;
	int			 n;

	(void)state;
	for (i = 0; i <= DDB_BATCH_MAX; i++) {
		snprintf(id, sizeof(id), "019b6f7c-93fb-7a2e-9c41-0123456789%02zx",
		    i);
		unit_sample(&t[i], id);
		t[i].col = (long)i + 1;
		tv[i] = &t[i];
	}
	assert_non_null(buf = malloc(DDB_BATCH_JSON_MAX));
	n = ddb_batch_json("Tickets", tv, DDB_BATCH_MAX, buf,
	    DDB_BATCH_JSON_MAX);
	assert_true(n > 0);
	assert_non_null(o = json_tokener_parse(buf));
	assert_non_null(list = unit_jpath(o, "RequestItems", "Tickets", NULL));
	assert_int_equal(json_object_array_length(list), DDB_BATCH_MAX);
	for (i = 0; i < DDB_BATCH_MAX; i++) {
		struct json_object *id_attr, *col_attr;

		e = json_object_array_get_idx(list, i);
		assert_non_null(id_attr = unit_jpath(e, "PutRequest", "Item",
		    "ticketId"));
		assert_non_null(col_attr = unit_jpath(e, "PutRequest", "Item",
		    "column"));
		assert_string_equal(json_object_get_string(unit_jpath(id_attr, "S",
		    NULL, NULL)), t[i].id);
		snprintf(id, sizeof(id), "%zu", i + 1);
		assert_string_equal(json_object_get_string(unit_jpath(col_attr, "N",
		    NULL, NULL)), id);
	}
	json_object_put(o);
	/* one item: exactly the item inside the envelope */
	n = ddb_batch_json("Tickets", tv, 1, buf, DDB_BATCH_JSON_MAX);
	assert_true(n > 0);
	{
		static const char head[] = "{\"RequestItems\":{\"Tickets\":[{"
		    "\"PutRequest\":{\"Item\":";

		assert_int_equal(strncmp(buf, head, strlen(head)), 0);
		char item[DDB_ITEM_MAX];

		assert_true(ddb_item_json(&t[0], item, sizeof(item)) > 0);
		assert_int_equal(strncmp(buf + strlen(head), item,
		    strlen(item)), 0);
		assert_int_equal(n, (int)(strlen(head) + strlen(item) + 5));
		assert_string_equal(buf + n - 5, "}}]}}");
	}
	assert_int_equal(ddb_batch_json("Tickets", tv, 0, buf,
	    DDB_BATCH_JSON_MAX), -1);
	assert_int_equal(ddb_batch_json("Tickets", tv, DDB_BATCH_MAX + 1, buf,
	    DDB_BATCH_JSON_MAX), -1);
	assert_int_equal(ddb_batch_json("Tickets", tv, 2, buf, 100), -1);
	free(buf);
}

static void
test_unprocessed(void **state)
{
	char	ids[4][UUID_LEN + 1];
	char	body[1024];

	(void)state;
	assert_int_equal(ddb_unprocessed("{\"UnprocessedItems\":{}}",
	    "Tickets", ids, 4), 0);
	assert_int_equal(ddb_unprocessed("{}", "Tickets", ids, 4), 0);
	snprintf(body, sizeof(body), "{\"UnprocessedItems\":{\"Tickets\":["
	    "{\"PutRequest\":{\"Item\":{\"ticketId\":{\"S\":\"%s\"},"
	    "\"row\":{\"N\":\"1\"}}}},{\"PutRequest\":{\"Item\":{\"ticketId\":"
	    "{\"S\":\"%s\"}}}}]}}", T_ID, T_ID2);
	memset(ids, 0, sizeof(ids));
	assert_int_equal(ddb_unprocessed(body, "Tickets", ids, 4), 2);
	assert_string_equal(ids[0], T_ID);
	assert_string_equal(ids[1], T_ID2);
	/* more than max: counted, only max written */
	memset(ids, 0, sizeof(ids));
	assert_int_equal(ddb_unprocessed(body, "Tickets", ids, 1), 2);
	assert_string_equal(ids[0], T_ID);
	assert_string_equal(ids[1], "");
	/* another table's leftovers are not ours */
	assert_int_equal(ddb_unprocessed(body, "Other", ids, 4), 0);
	assert_int_equal(ddb_unprocessed("not json", "Tickets", ids, 4), -1);
	assert_int_equal(ddb_unprocessed("[1]", "Tickets", ids, 4), -1);
	assert_int_equal(ddb_unprocessed(NULL, "Tickets", ids, 4), -1);
	/* leftovers in a shape we cannot read are not "none left" */
	assert_int_equal(ddb_unprocessed("{\"UnprocessedItems\":null}",
	    "Tickets", ids, 4), -1);
	assert_int_equal(ddb_unprocessed("{\"UnprocessedItems\":[]}",
	    "Tickets", ids, 4), -1);
	assert_int_equal(ddb_unprocessed("{\"UnprocessedItems\":{\"Tickets\""
	    ":{}}}", "Tickets", ids, 4), -1);
	assert_int_equal(ddb_unprocessed("{\"UnprocessedItems\":{\"Tickets\""
	    ":null}}", "Tickets", ids, 4), -1);
	assert_int_equal(ddb_unprocessed("{\"UnprocessedItems\":{\"Tickets\":"
	    "[{\"PutRequest\":{\"Item\":{\"ticketId\":{\"S\":\"x\"}}}}]}}",
	    "Tickets", ids, 4), -1);
}

static void
test_table_ok(void **state)
{
	char long_name[300];

	(void)state;
	assert_int_equal(ddb_table_ok("Tickets"), 1);
	assert_int_equal(ddb_table_ok("a.b-c_9"), 1);
	assert_int_equal(ddb_table_ok("ab"), 0);
	assert_int_equal(ddb_table_ok("Tick ets"), 0);
	assert_int_equal(ddb_table_ok("Tick\"ets"), 0);
	assert_int_equal(ddb_table_ok(""), 0);
	memset(long_name, 'a', sizeof(long_name));
	long_name[255] = '\0';
	assert_int_equal(ddb_table_ok(long_name), 1);
	long_name[255] = 'a';
	long_name[256] = '\0';
	assert_int_equal(ddb_table_ok(long_name), 0);
}

/* what a responder publishes, parsed back, makes an item */
static void
test_item_of_published(void **state)
{
	struct ticket	 t;
	char		 json[TICKET_JSON_MAX], item[DDB_PUT_MAX];
	int		 n;

	(void)state;
	unit_sample(&t, T_ID);
	assert_true((n = ticket_json(&t, json, sizeof(json))) > 0);
	assert_int_equal(ticket_parse(json, (size_t)n, &t), TICKET_OK);
	assert_true(ddb_item_json(&t, item, sizeof(item)) > 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_item_json),
		cmocka_unit_test(test_put_json),
		cmocka_unit_test(test_batch_json),
		cmocka_unit_test(test_unprocessed),
		cmocka_unit_test(test_table_ok),
		cmocka_unit_test(test_item_of_published),
	};

	return cmocka_run_group_tests_name("ddb_item", tests, NULL, NULL);
}
