/* SPDX-License-Identifier: ISC */
/*
 * test_tsql.c - unit tests of consumer/tsql.c: the multi-row INSERT, the
 * look-up of existing rows, the buffer sizes and the verdicts.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ticket.h"
#include "tsql.h"
#include "unit.h"

static void
test_tsql_insert(void **state)
{
	static const char want[] = "INSERT INTO ticket (ticket_id, venue_id, "
	    "event_id, zone_id, row_no, col_no, price, status, created_on) "
	    "VALUES ('" T_ID "','Venue1','Event1',12,3,30,320.00,'CREATED',"
	    "'2026-11-27 23:54:24.123'),('" T_ID2 "','Venue1','Event1',12,3,"
	    "29,320.00,'CREATED','2026-11-27 23:54:24.123')";
	struct ticket		 t[2];
	const struct ticket	*tv[2] = { &t[0], &t[1] };
	char			 buf[TSQL_SIZE(2)];

	(void)state;
	unit_sample(&t[0], T_ID);
	unit_sample(&t[1], T_ID2);
	t[1].col = 29;
	assert_int_equal(tsql_insert(tv, 2, buf, sizeof(buf)),
	    (int)strlen(want));
	assert_string_equal(buf, want);
	assert_int_equal(tsql_insert(tv, 2, buf, strlen(want)), -1);
	assert_int_equal(tsql_insert(tv, 2, buf, strlen(want) + 1),
	    (int)strlen(want));
	assert_int_equal(tsql_insert(tv, 0, buf, sizeof(buf)), -1);
	/* nothing that could change the statement gets in */
	snprintf(t[1].venue, sizeof(t[1].venue), "V'); DROP TABLE ticket;--");
	assert_int_equal(tsql_insert(tv, 2, buf, sizeof(buf)), -1);
	unit_sample(&t[1], T_ID2);
	snprintf(t[1].created, sizeof(t[1].created), "2026-11-27 23:54:24.123");
	assert_int_equal(tsql_insert(tv, 2, buf, sizeof(buf)), -1);
	unit_sample(&t[1], T_ID2);
	snprintf(t[1].price, sizeof(t[1].price), "1e3");
	assert_int_equal(tsql_insert(tv, 2, buf, sizeof(buf)), -1);
}

static void
test_tsql_lookup(void **state)
{
	static const char want[] = "SELECT ticket_id, event_id, zone_id, "
	    "row_no, col_no FROM ticket WHERE ticket_id IN ('" T_ID "','"
	    T_ID2 "') UNION SELECT ticket_id, event_id, zone_id, row_no, "
	    "col_no FROM ticket WHERE (event_id, zone_id, row_no, col_no) IN "
	    "(('Event1',12,3,30),('Event2',1,1,2)) AND status <> 'CANCELLED'";
	struct ticket		 t[2];
	const struct ticket	*tv[2] = { &t[0], &t[1] };
	char			 buf[TSQL_SIZE(2)];

	(void)state;
	unit_sample(&t[0], T_ID);
	unit_sample(&t[1], T_ID2);
	snprintf(t[1].event, sizeof(t[1].event), "Event2");
	t[1].zone = 1;
	t[1].row = 1;
	t[1].col = 2;
	assert_int_equal(tsql_lookup(tv, 2, buf, sizeof(buf)),
	    (int)strlen(want));
	assert_string_equal(buf, want);
	assert_int_equal(tsql_lookup(tv, 2, buf, strlen(want)), -1);
}

static void
test_tsql_sizes(void **state)
{
	struct ticket		*t;
	const struct ticket	**tv;
	char			*buf;
	size_t			 i;

	(void)state;
	/* the longest tickets, a full batch: TSQL_SIZE() is enough */
	assert_non_null(t = calloc(TSQL_BATCH_MAX, sizeof(*t)));
	assert_non_null(tv = calloc(TSQL_BATCH_MAX, sizeof(*tv)));
	assert_non_null(buf = malloc(TSQL_SIZE(TSQL_BATCH_MAX)));
	for (i = 0; i < TSQL_BATCH_MAX; i++) {
		unit_sample(&t[i], T_ID);
		memset(t[i].venue, 'v', ID_MAX);
		memset(t[i].event, 'e', ID_MAX);
		t[i].zone = t[i].row = t[i].col = 2147483647L;
		snprintf(t[i].price, sizeof(t[i].price), "99999999.99");
		tv[i] = &t[i];
	}
	assert_true(tsql_insert(tv, TSQL_BATCH_MAX, buf,
	    TSQL_SIZE(TSQL_BATCH_MAX)) > 0);
	assert_true(tsql_lookup(tv, TSQL_BATCH_MAX, buf,
	    TSQL_SIZE(TSQL_BATCH_MAX)) > 0);
	assert_int_equal(tsql_insert(tv, TSQL_BATCH_MAX + 1, buf,
	    TSQL_SIZE(TSQL_BATCH_MAX + 1)), -1);
	free(buf);
	free(tv);
	free(t);
}

/* tsql_row_parse() of five text columns (NULL allowed), as MYSQL_ROW. */
static int
row_of(struct tsql_row *r, const char *id, const char *event,
    const char *zone, const char *row, const char *col)
{
	const char	*in[5] = { id, event, zone, row, col };
	char		 text[5][80], *cols[5];
	int		 i;

	for (i = 0; i < 5; i++) {
		cols[i] = NULL;
		if (in[i] != NULL) {
			snprintf(text[i], sizeof(text[i]), "%s", in[i]);
			cols[i] = text[i];
		}
	}
	return tsql_row_parse(cols, r);
}

static void
test_tsql_verdicts(void **state)
{
	const struct tsql_row	*o;
	struct tsql_row		 rows[2];
	struct ticket		 t;
	char			 dt[STAMP_LEN];

	(void)state;
	unit_sample(&t, T_ID);
	assert_int_equal(row_of(&rows[0], T_ID, "Event1", "x", "3", "30"), -1);
	assert_int_equal(row_of(&rows[0], T_ID, NULL, "12", "3", "30"), -1);
	assert_int_equal(tsql_classify(&t, rows, 0, &o), TSQL_ABSENT);
	assert_null(o);

	/* the same seat number of another event is another seat */
	assert_int_equal(row_of(&rows[0], T_ID2, "Event3", "12", "3", "30"), 0);
	assert_int_equal(tsql_classify(&t, rows, 1, &o), TSQL_ABSENT);

	assert_int_equal(row_of(&rows[1], T_ID, "Event1", "12", "3", "30"), 0);
	assert_int_equal(tsql_classify(&t, rows, 2, &o), TSQL_PRESENT);
	/* the row that is there: an order that says it is not its own
	 * logs it (consumer/sink_sql.c, order_refused) */
	assert_ptr_equal(o, &rows[1]);

	assert_int_equal(row_of(&rows[1], T_ID2, "Event1", "12", "3", "30"), 0);
	assert_int_equal(tsql_classify(&t, rows, 2, &o), TSQL_SEAT_TAKEN);
	assert_ptr_equal(o, &rows[1]);
	assert_string_equal(o->id, T_ID2);

	/* its own id elsewhere wins over another ticket on its seat */
	assert_int_equal(row_of(&rows[0], T_ID, "Event1", "12", "3", "29"), 0);
	assert_int_equal(tsql_classify(&t, rows, 2, &o), TSQL_ID_CONFLICT);
	assert_ptr_equal(o, &rows[0]);
	assert_int_equal(o->col, 29);

	assert_int_equal(tsql_datetime("2026-11-27T23:54:24.123Z", dt), 0);
	assert_string_equal(dt, "2026-11-27 23:54:24.123");
	assert_int_equal(tsql_datetime("2026-11-27 23:54:24.123Z", dt), -1);
}

/* what a responder publishes, parsed back, makes an INSERT */
static void
test_tsql_of_published(void **state)
{
	struct ticket		 t;
	const struct ticket	*tv[1] = { &t };
	char			 json[TICKET_JSON_MAX], sql[4096];
	int			 n;

	(void)state;
	unit_sample(&t, T_ID);
	assert_true((n = ticket_json(&t, json, sizeof(json))) > 0);
	assert_int_equal(ticket_parse(json, (size_t)n, &t), TICKET_OK);
	assert_string_equal(t.price, "320.00");
	assert_true(tsql_insert(tv, 1, sql, sizeof(sql)) > 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tsql_insert),
		cmocka_unit_test(test_tsql_lookup),
		cmocka_unit_test(test_tsql_sizes),
		cmocka_unit_test(test_tsql_verdicts),
		cmocka_unit_test(test_tsql_of_published),
	};

	return cmocka_run_group_tests_name("tsql", tests, NULL, NULL);
}
