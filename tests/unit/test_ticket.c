/* SPDX-License-Identifier: ISC */
/*
 * test_ticket.c - unit tests of shared/ticket.c: UUIDv7 ids, timestamps,
 * the ticket JSON (201 body and broker message) and the consumer's parser.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "clock.h"
#include "ticket.h"
#include "unit.h"

#define T_MS	1795823664123LL		/* 2026-11-27T23:54:24.123Z */
#define T_JSON	"{\"ticketId\":\"" T_ID "\",\"venueId\":\"Venue1\"," \
		"\"eventId\":\"Event1\",\"zoneId\":12,\"row\":3,\"column\":30," \
		"\"price\":320.00,\"status\":\"CREATED\"," \
		"\"createdOn\":\"2026-11-27T23:54:24.123Z\"}"

static int
hexval(char c)
{
	return c >= '0' && c <= '9' ? c - '0' : c - 'a' + 10;
}

static void
test_uuid_format(void **state)
{
	char	id[UUID_LEN + 1];
	int	i;

	(void)state;
	for (i = 0; i < 200; i++) {
		memset(id, 'X', sizeof(id));
		assert_int_equal(ticket_uuid_v7(T_MS + i, id), 0);
		assert_int_equal(strlen(id), UUID_LEN);
		assert_int_equal(valid_uuid(id), 1);	/* lowercase 8-4-4-4-12 */
		assert_int_equal(id[14], '7');		/* version */
		assert_non_null(strchr("89ab", id[19]));	/* variant 10xx */
		assert_int_equal(id[8], '-');
		assert_int_equal(id[23], '-');
	}
}

/* ticket_uuid_v7_from: the bytes given, the version and variant bits set. */
static void
test_uuid_from_bytes(void **state)
{
	unsigned char	rnd[UUID_RANDOM] = { 0, 1, 2, 3, 4, 5, 6, 7, 8, 9 };
	unsigned char	ones[UUID_RANDOM];
	char		id[UUID_LEN + 1];

	(void)state;
	ticket_uuid_v7_from(T_MS, rnd, id);
	assert_string_equal(id, "01a21f6e-7bfb-7001-8203-040506070809");
	memset(ones, 0xff, sizeof(ones));
	ticket_uuid_v7_from(T_MS, ones, id);
	assert_string_equal(id, "01a21f6e-7bfb-7fff-bfff-ffffffffffff");
	assert_int_equal(ticket_random(ones, sizeof(ones)), 0);
}

static void
test_uuid_timestamp(void **state)
{
	char		id[UUID_LEN + 1], want[16];
	long long	ms;
	int		i;
	static const long long cases[] = {
		0, 1, T_MS, 0xffffffffffffLL, 1700000000000LL, 0x0123456789abLL
	};

	(void)state;
	for (i = 0; i < (int)(sizeof(cases) / sizeof(cases[0])); i++) {
		assert_int_equal(ticket_uuid_v7(cases[i], id), 0);
		/* the first 48 bits are the ms, big endian */
		snprintf(want, sizeof(want), "%012llx", cases[i]);
		assert_memory_equal(id, want, 8);
		assert_memory_equal(id + 9, want + 8, 4);
		ms = 0;
		for (int k = 0; k < 13; k++)
			if (k != 8)
				ms = ms * 16 + hexval(id[k]);
		assert_true(ms == cases[i]);
	}
	assert_int_equal(ticket_uuid_v7(T_MS, id), 0);
	assert_memory_equal(id, "01a21f6e-7bfb-7", 15);
}

static void
test_uuid_ordered_unique(void **state)
{
	char	prev[UUID_LEN + 1], cur[UUID_LEN + 1], same[64][UUID_LEN + 1];
	int	i, k;

	(void)state;
	/* increasing ms -> increasing ids, as strings */
	assert_int_equal(ticket_uuid_v7(T_MS, prev), 0);
	for (i = 1; i < 500; i++) {
		assert_int_equal(ticket_uuid_v7(T_MS + i * 7, cur), 0);
		if (strcmp(prev, cur) >= 0)
			fail_msg("%s !< %s", prev, cur);
		memcpy(prev, cur, sizeof(cur));
	}
	/* the same ms: random bits differ */
	for (i = 0; i < 64; i++) {
		assert_int_equal(ticket_uuid_v7(T_MS, same[i]), 0);
		for (k = 0; k < i; k++)
			assert_string_not_equal(same[i], same[k]);
	}
}

static void
test_now_and_new(void **state)
{
	struct ticket	t;
	long long	before, after, idms = 0;
	int		k;

	(void)state;
	memset(&t, 0, sizeof(t));
	before = wall_ms();
	assert_int_equal(ticket_new(&t), 0);
	after = wall_ms();
	assert_true(before > 1700000000000LL);	/* after 2023 */
	assert_true(t.created_ms >= before && t.created_ms <= after);
	assert_int_equal(valid_uuid(t.id), 1);
	assert_int_equal(ticket_stamp_ok(t.created), 1);
	for (k = 0; k < 13; k++)
		if (k != 8)
			idms = idms * 16 + hexval(t.id[k]);
	assert_true(idms == t.created_ms);
}

static void
test_stamp(void **state)
{
	char	s[STAMP_LEN + 1];

	(void)state;
	ticket_stamp(0, s);
	assert_string_equal(s, "1970-01-01T00:00:00.000Z");
	ticket_stamp(T_MS, s);
	assert_string_equal(s, "2026-11-27T23:54:24.123Z");
	ticket_stamp(T_MS - 123 + 5, s);
	assert_string_equal(s, "2026-11-27T23:54:24.005Z");
	ticket_stamp(T_MS - 123 + 999, s);
	assert_string_equal(s, "2026-11-27T23:54:24.999Z");
	ticket_stamp(951782400000LL, s);	/* leap day 2000 */
	assert_string_equal(s, "2000-02-29T00:00:00.000Z");
	ticket_stamp(4102444799999LL, s);
	assert_string_equal(s, "2099-12-31T23:59:59.999Z");
	assert_int_equal(strlen(s), STAMP_LEN);
}

static void
test_json_exact(void **state)
{
	struct ticket	t;
	char		buf[TICKET_JSON_MAX];

	(void)state;
	unit_sample(&t, T_ID);
	assert_int_equal(ticket_json(&t, buf, sizeof(buf)), strlen(T_JSON));
	assert_string_equal(buf, T_JSON);
	assert_int_equal(ticket_json_head(&t, buf, sizeof(buf)),
	    strlen(T_JSON) - strlen("320.00,\"status\":\"CREATED\","
	    "\"createdOn\":\"2026-11-27T23:54:24.123Z\"}"));
	assert_string_equal(buf, "{\"ticketId\":\"" T_ID "\",\"venueId\":"
	    "\"Venue1\",\"eventId\":\"Event1\",\"zoneId\":12,\"row\":3,"
	    "\"column\":30,\"price\":");
	assert_int_equal(ticket_json_tail(&t, buf, sizeof(buf)),
	    strlen(",\"status\":\"CREATED\",\"createdOn\":"
	    "\"2026-11-27T23:54:24.123Z\"}"));
	assert_string_equal(buf, ",\"status\":\"CREATED\",\"createdOn\":"
	    "\"2026-11-27T23:54:24.123Z\"}");
}

static void
test_json_sizes(void **state)
{
	struct ticket	t;
	char		buf[TICKET_JSON_MAX];
	size_t		n = strlen(T_JSON);

	(void)state;
	unit_sample(&t, T_ID);
	/* exactly n+1 fits, n does not (room for the NUL) */
	assert_int_equal(ticket_json(&t, buf, n + 1), n);
	assert_string_equal(buf, T_JSON);
	assert_int_equal(ticket_json(&t, buf, n), -1);
	assert_int_equal(ticket_json(&t, buf, 10), -1);
	assert_int_equal(ticket_json(&t, buf, 1), -1);
	assert_int_equal(ticket_json_head(&t, buf, 5), -1);
	assert_int_equal(ticket_json_tail(&t, buf, 5), -1);
	/* the longest ticket fits TICKET_JSON_MAX */
	memset(t.venue, 'v', ID_MAX);
	t.venue[ID_MAX] = '\0';
	memset(t.event, 'e', ID_MAX);
	t.event[ID_MAX] = '\0';
	t.zone = t.row = t.col = SEAT_MAX;
	snprintf(t.price, sizeof(t.price), "99999999.99");
	assert_true(ticket_json(&t, buf, sizeof(buf)) > 0);
}

static void
test_parse_roundtrip(void **state)
{
	struct ticket	t, u;
	char		buf[TICKET_JSON_MAX];
	int		n;

	(void)state;
	assert_int_equal(ticket_parse(T_JSON, strlen(T_JSON), &u), TICKET_OK);
	assert_string_equal(u.id, T_ID);
	assert_string_equal(u.venue, "Venue1");
	assert_string_equal(u.event, "Event1");
	assert_int_equal(u.zone, 12);
	assert_int_equal(u.row, 3);
	assert_int_equal(u.col, 30);
	assert_string_equal(u.price, "320.00");
	assert_string_equal(u.created, "2026-11-27T23:54:24.123Z");
	/* parse(json(t)) == t */
	unit_sample(&t, T_ID);
	memset(t.venue, 'v', ID_MAX);
	t.venue[ID_MAX] = '\0';
	t.zone = t.row = t.col = SEAT_MAX;
	snprintf(t.price, sizeof(t.price), "0.05");
	n = ticket_json(&t, buf, sizeof(buf));
	assert_true(n > 0);
	assert_int_equal(ticket_parse(buf, (size_t)n, &u), TICKET_OK);
	assert_string_equal(u.venue, t.venue);
	assert_true(u.zone == SEAT_MAX && u.row == SEAT_MAX &&
	    u.col == SEAT_MAX);
	assert_string_equal(u.price, "0.05");
}

static void
test_parse_accepts(void **state)
{
	struct ticket	u;
	enum ticket_err	e;
	static const char *const ok[] = {
		/* any order, blanks between tokens, unknown fields */
		"{\"status\":\"CREATED\",\"createdOn\":\"2026-11-27T23:54:24.123Z\","
		"\"price\":20.00,\"column\":1,\"row\":1,\"zoneId\":1,"
		"\"eventId\":\"E\",\"venueId\":\"V\",\"ticketId\":\"" T_ID "\"}",
		"{ \"ticketId\" : \"" T_ID "\" , \"venueId\":\"V\",\"eventId\":\"E\","
		"\"zoneId\":1,\"row\":1,\"column\":1,\"price\":95.50,"
		"\"status\":\"CREATED\",\"createdOn\":\"2026-11-27T23:54:24.123Z\","
		"\"extra\":[1,{\"a\":null}]}",
		/* json-c keeps the price as written */
		"{\"ticketId\":\"" T_ID "\",\"venueId\":\"V\",\"eventId\":\"E\","
		"\"zoneId\":1,\"row\":1,\"column\":1,\"price\":12345678.99,"
		"\"status\":\"CREATED\",\"createdOn\":\"2026-11-27T23:54:24.123Z\"}",
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
		if ((e = ticket_parse(ok[i], strlen(ok[i]), &u)) != TICKET_OK)
			fail_msg("rejected (%s): %s", ticket_err_str(e), ok[i]);
	assert_string_equal(u.price, "12345678.99");
}

/* T_JSON with the first occurrence of from replaced by to. */
static void
expect_reject(const char *from, const char *to)
{
	char		buf[2 * TICKET_JSON_MAX];
	const char	*p = strstr(T_JSON, from);
	struct ticket	u;
	int		n;

	assert_non_null(p);
	n = snprintf(buf, sizeof(buf), "%.*s%s%s", (int)(p - T_JSON), T_JSON,
	    to, p + strlen(from));
	assert_true(n > 0 && (size_t)n < sizeof(buf));
	if (ticket_parse(buf, (size_t)n, &u) == TICKET_OK)
		fail_msg("accepted: %s", buf);
}

static void
test_parse_rejects_fields(void **state)
{
	(void)state;
	/* ticketId */
	expect_reject("\"ticketId\"", "\"ticketID\"");
	expect_reject(T_ID, "019B6F7C-93FB-7A2E-9C41-0123456789AB");
	expect_reject(T_ID, "not-a-uuid");
	expect_reject("\"" T_ID "\"", "null");
	expect_reject(T_ID, "019b6f7c-93fb-7a2e-9c41-0123456789ab\\u0000");
	/* ids */
	expect_reject("\"Venue1\"", "\"Venue 1\"");
	expect_reject("\"Venue1\"", "\"\"");
	expect_reject("\"Venue1\"", "1");
	expect_reject("\"Event1\"", "\"Ev\\u0000ent1\"");
	expect_reject("\"Event1\"", "\"vvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvv"
	    "vvvvvvvvvvvvvvvvvvvvvvvvvvvvv\"");
	expect_reject("\"eventId\"", "\"event\"");
	/* numbers */
	expect_reject("\"zoneId\":12", "\"zoneId\":0");
	expect_reject("\"zoneId\":12", "\"zoneId\":-12");
	expect_reject("\"zoneId\":12", "\"zoneId\":\"12\"");
	expect_reject("\"zoneId\":12", "\"zoneId\":12.0");
	expect_reject("\"zoneId\":12", "\"zoneId\":2147483648");
	expect_reject("\"row\":3", "\"row\":0");
	expect_reject("\"row\":3", "\"row\":true");
	expect_reject("\"column\":30", "\"column\":null");
	expect_reject("\"column\":30", "\"column\":99999999999999999999");
	expect_reject("\"column\":30", "\"col\":30");
	/* price: a number with exactly 2 decimals */
	expect_reject("320.00", "320");
	expect_reject("320.00", "320.0");
	expect_reject("320.00", "320.000");
	expect_reject("320.00", "3.2e2");
	expect_reject("320.00", "-320.00");
	expect_reject("320.00", "\"320.00\"");
	expect_reject("320.00", "123456789.00");
	expect_reject("320.00", "0320.00");
	expect_reject("320.00", "null");
	expect_reject("\"price\"", "\"Price\"");
	/* status */
	expect_reject("\"CREATED\"", "\"created\"");
	expect_reject("\"CREATED\"", "\"SOLD\"");
	expect_reject("\"CREATED\"", "\"CREATED \"");
	expect_reject("\"CREATED\"", "\"CREATED\\u0000\"");
	expect_reject("\"CREATED\"", "1");
	/* createdOn */
	expect_reject("2026-11-27T23:54:24.123Z", "2026-11-27T23:54:24Z");
	expect_reject("2026-11-27T23:54:24.123Z", "2026-11-27 23:54:24.123Z");
	expect_reject("2026-11-27T23:54:24.123Z", "2026-13-27T23:54:24.123Z");
	expect_reject("2026-11-27T23:54:24.123Z", "2026-11-27T23:54:24.123");
	expect_reject("2026-11-27T23:54:24.123Z",
	    "2026-11-27T23:54:24.123+00:00");
	expect_reject("\"2026-11-27T23:54:24.123Z\"", "1795823664123");
}

static void
test_parse_rejects_shape(void **state)
{
	struct ticket	u;
	char		buf[8192];
	size_t		n;

	(void)state;
	assert_int_equal(ticket_parse("", 0, &u), TICKET_ERR_SIZE);
	assert_string_equal(ticket_err_str(TICKET_ERR_SIZE),
	    "message is empty or too large");
	assert_int_equal(ticket_parse("[]", 2, &u), TICKET_ERR_NOT_OBJECT);
	assert_int_equal(ticket_parse("null", 4, &u), TICKET_ERR_JSON);
	assert_int_equal(ticket_parse("{}", 2, &u), TICKET_ERR_ID);
	assert_int_equal(ticket_parse("\"x\"", 3, &u), TICKET_ERR_NOT_OBJECT);
	assert_int_equal(ticket_parse("{", 1, &u), TICKET_ERR_JSON);
	/* cut short, trailing data, two messages */
	assert_int_equal(ticket_parse(T_JSON, strlen(T_JSON) - 1, &u),
	    TICKET_ERR_JSON);
	assert_int_equal(ticket_parse(T_JSON "x", strlen(T_JSON) + 1, &u),
	    TICKET_ERR_JSON);
	assert_int_equal(ticket_parse(T_JSON T_JSON, 2 * strlen(T_JSON), &u),
	    TICKET_ERR_JSON);
	assert_int_equal(ticket_parse(T_JSON "\0", strlen(T_JSON) + 1, &u),
	    TICKET_ERR_JSON);
	/* not JSON that json-c would take */
	expect_reject("{\"ticketId\"", "{'ticketId'");
	expect_reject("\"Venue1\"", "\"Ven\tue1\"");
	expect_reject("\"status\":\"CREATED\"", "\"status\":\"CREATED\","
	    "\"x\":Infinity");
	/* invalid UTF-8 in an unknown field */
	expect_reject("\"status\":\"CREATED\"", "\"status\":\"CREATED\","
	    "\"x\":\"\xff\"");
	expect_reject("\"status\":\"CREATED\"", "\"status\":\"CREATED\","
	    "\"x\":\"\xed\xa0\x80\"");
	/* nesting over 8 in an unknown field */
	expect_reject("\"status\":\"CREATED\"", "\"status\":\"CREATED\","
	    "\"x\":[[[[[[[[1]]]]]]]]");
	/* over the size cap: 4 * TICKET_JSON_MAX */
	n = strlen(T_JSON) - 1;
	memcpy(buf, T_JSON, n);
	buf[n++] = ',';
	buf[n++] = '"';
	buf[n++] = 'x';
	buf[n++] = '"';
	buf[n++] = ':';
	buf[n++] = '"';
	while (n < 4 * TICKET_JSON_MAX - 2)
		buf[n++] = 'a';
	buf[n++] = '"';
	buf[n++] = '}';
	assert_int_equal(n, 4 * TICKET_JSON_MAX);
	assert_int_equal(ticket_parse(buf, n, &u), TICKET_OK);
	buf[n - 2] = 'a';
	buf[n - 1] = '"';
	buf[n++] = '}';
	assert_int_equal(ticket_parse(buf, n, &u), TICKET_ERR_SIZE);
}

/* ticket_ok: the sample passes; a break of any one field is refused. */
static void
test_ticket_ok(void **state)
{
	struct ticket	t;
	int		i;

	(void)state;
	unit_sample(&t, T_ID);
	assert_int_equal(ticket_ok(&t), 1);
	for (i = 0; i < 8; i++) {
		unit_sample(&t, T_ID);
		switch (i) {
		case 0: t.id[0] = 'G'; break;			/* not hex */
		case 1: t.venue[3] = '\''; break;		/* quote */
		case 2: t.event[0] = '\0'; break;		/* empty */
		case 3: t.zone = 0; break;
		case 4: t.row = SEAT_MAX + 1; break;
		case 5: t.col = -1; break;
		case 6: snprintf(t.price, sizeof(t.price), "3.2"); break;
		case 7: t.created[10] = ' '; break;
		}
		if (ticket_ok(&t) != 0)
			fail_msg("break %d accepted", i);
	}
}

static void
test_parse_poison(void **state)
{
	static const char *const poison[] = {
		"this is not JSON",
		"",
		"[]",
		"{\"ticketId\":\"" T_ID "\"}",
		/* a string where a number belongs */
		"{\"ticketId\":\"" T_ID "\",\"venueId\":\"Venue1\","
		"\"eventId\":\"Event1\",\"zoneId\":\"12\",\"row\":3,\"column\":30,"
		"\"price\":320.00,\"status\":\"CREATED\","
		"\"createdOn\":\"2026-11-27T23:54:24.123Z\"}",
		/* not a sale */
		"{\"ticketId\":\"" T_ID "\",\"venueId\":\"Venue1\","
		"\"eventId\":\"Event1\",\"zoneId\":12,\"row\":3,\"column\":30,"
		"\"price\":320.00,\"status\":\"PAID\","
		"\"createdOn\":\"2026-11-27T23:54:24.123Z\"}",
		/* a price MySQL's DECIMAL(10,2) cannot hold */
		"{\"ticketId\":\"" T_ID "\",\"venueId\":\"Venue1\","
		"\"eventId\":\"Event1\",\"zoneId\":12,\"row\":3,\"column\":30,"
		"\"price\":123456789.00,\"status\":\"CREATED\","
		"\"createdOn\":\"2026-11-27T23:54:24.123Z\"}",
		/* an id that would need quoting in SQL */
		"{\"ticketId\":\"" T_ID "\",\"venueId\":\"Ven'ue\","
		"\"eventId\":\"Event1\",\"zoneId\":12,\"row\":3,\"column\":30,"
		"\"price\":320.00,\"status\":\"CREATED\","
		"\"createdOn\":\"2026-11-27T23:54:24.123Z\"}",
	};
	struct ticket	 t;
	char		 deep[5001];
	size_t		 i;

	(void)state;
	for (i = 0; i < sizeof(poison) / sizeof(poison[0]); i++) {
		assert_int_not_equal(ticket_parse(poison[i], strlen(poison[i]),
		    &t), TICKET_OK);
	}
	memset(deep, '[', sizeof(deep) - 1);
	deep[sizeof(deep) - 1] = '\0';
	assert_int_not_equal(ticket_parse(deep, strlen(deep), &t), TICKET_OK);
}

static void
test_price_ok(void **state)
{
	(void)state;
	assert_int_equal(ticket_price_ok("320.00"), 1);
	assert_int_equal(ticket_price_ok("0.00"), 1);
	assert_int_equal(ticket_price_ok("0.50"), 1);
	assert_int_equal(ticket_price_ok("95.50"), 1);
	assert_int_equal(ticket_price_ok("99999999.99"), 1);
	assert_int_equal(ticket_price_ok("999999999.99"), 0);	/* 9 digits */
	assert_int_equal(ticket_price_ok("01.00"), 0);
	assert_int_equal(ticket_price_ok("00.00"), 0);
	assert_int_equal(ticket_price_ok(".50"), 0);
	assert_int_equal(ticket_price_ok("1.5"), 0);
	assert_int_equal(ticket_price_ok("1.500"), 0);
	assert_int_equal(ticket_price_ok("1."), 0);
	assert_int_equal(ticket_price_ok("1"), 0);
	assert_int_equal(ticket_price_ok("-1.00"), 0);
	assert_int_equal(ticket_price_ok("+1.00"), 0);
	assert_int_equal(ticket_price_ok("1,00"), 0);
	assert_int_equal(ticket_price_ok("1e2"), 0);
	assert_int_equal(ticket_price_ok("1.0a"), 0);
	assert_int_equal(ticket_price_ok("1.00 "), 0);
	assert_int_equal(ticket_price_ok(" 1.00"), 0);
	assert_int_equal(ticket_price_ok(""), 0);
}

static void
test_stamp_ok(void **state)
{
	(void)state;
	assert_int_equal(ticket_stamp_ok("2026-11-27T23:54:24.123Z"), 1);
	assert_int_equal(ticket_stamp_ok("1970-01-01T00:00:00.000Z"), 1);
	assert_int_equal(ticket_stamp_ok("9999-12-31T23:59:59.999Z"), 1);
	assert_int_equal(ticket_stamp_ok("1969-12-31T23:59:59.999Z"), 0);
	/* a real instant: what the parser accepts MySQL's DATETIME(3) takes
	 * (an impossible day once stalled the consumer's MySQL pipeline) */
	assert_int_equal(ticket_stamp_ok("2028-02-29T10:00:00.000Z"), 1);
	assert_int_equal(ticket_stamp_ok("2000-02-29T10:00:00.000Z"), 1);
	assert_int_equal(ticket_stamp_ok("2027-02-29T10:00:00.000Z"), 0);
	assert_int_equal(ticket_stamp_ok("2100-02-29T10:00:00.000Z"), 0);
	assert_int_equal(ticket_stamp_ok("2026-02-30T10:00:00.000Z"), 0);
	assert_int_equal(ticket_stamp_ok("2026-02-31T10:00:00.000Z"), 0);
	assert_int_equal(ticket_stamp_ok("2026-04-31T10:00:00.000Z"), 0);
	assert_int_equal(ticket_stamp_ok("2026-06-31T10:00:00.000Z"), 0);
	assert_int_equal(ticket_stamp_ok("2026-09-31T10:00:00.000Z"), 0);
	assert_int_equal(ticket_stamp_ok("2026-11-31T10:00:00.000Z"), 0);
	assert_int_equal(ticket_stamp_ok("2026-12-31T10:00:00.000Z"), 1);
	assert_int_equal(ticket_stamp_ok("2026-04-30T10:00:00.000Z"), 1);
	assert_int_equal(ticket_stamp_ok("2016-12-31T23:59:59.999Z"), 1);
	/* a leap second: DATETIME refuses it */
	assert_int_equal(ticket_stamp_ok("2016-12-31T23:59:60.999Z"), 0);
	assert_int_equal(ticket_stamp_ok("2026-11-27T23:54:60.000Z"), 0);
	assert_int_equal(ticket_stamp_ok("2026-11-27T23:54:24.1a3Z"), 0);
	assert_int_equal(ticket_stamp_ok("2026-00-27T23:54:24.123Z"), 0);
	assert_int_equal(ticket_stamp_ok("2026-13-27T23:54:24.123Z"), 0);
	assert_int_equal(ticket_stamp_ok("2026-11-00T23:54:24.123Z"), 0);
	assert_int_equal(ticket_stamp_ok("2026-11-32T23:54:24.123Z"), 0);
	assert_int_equal(ticket_stamp_ok("2026-11-27T24:54:24.123Z"), 0);
	assert_int_equal(ticket_stamp_ok("2026-11-27T23:60:24.123Z"), 0);
	assert_int_equal(ticket_stamp_ok("2026-11-27T23:54:61.123Z"), 0);
	assert_int_equal(ticket_stamp_ok("2026-11-27t23:54:24.123Z"), 0);
	assert_int_equal(ticket_stamp_ok("2026-11-27T23:54:24.123z"), 0);
	assert_int_equal(ticket_stamp_ok("2026-11-27T23:54:24,123Z"), 0);
	assert_int_equal(ticket_stamp_ok("2026-11-27T23:54:24.12Z"), 0);
	assert_int_equal(ticket_stamp_ok("2026-11-27T23:54:24.1234Z"), 0);
	assert_int_equal(ticket_stamp_ok("2026-11-27T23:54:24.123"), 0);
	assert_int_equal(ticket_stamp_ok("2026-11-27T23:54:24.123Z "), 0);
	assert_int_equal(ticket_stamp_ok("2026-1a-27T23:54:24.123Z"), 0);
	assert_int_equal(ticket_stamp_ok("2026-11-27T2 :54:24.123Z"), 0);
	assert_int_equal(ticket_stamp_ok("-026-11-27T23:54:24.123Z"), 0);
	assert_int_equal(ticket_stamp_ok(""), 0);
	assert_int_equal(ticket_stamp_ok(NULL), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_uuid_format),
		cmocka_unit_test(test_uuid_timestamp),
		cmocka_unit_test(test_uuid_from_bytes),
		cmocka_unit_test(test_uuid_ordered_unique),
		cmocka_unit_test(test_now_and_new),
		cmocka_unit_test(test_stamp),
		cmocka_unit_test(test_json_exact),
		cmocka_unit_test(test_json_sizes),
		cmocka_unit_test(test_parse_roundtrip),
		cmocka_unit_test(test_parse_accepts),
		cmocka_unit_test(test_parse_rejects_fields),
		cmocka_unit_test(test_parse_rejects_shape),
		cmocka_unit_test(test_parse_poison),
		cmocka_unit_test(test_price_ok),
		cmocka_unit_test(test_ticket_ok),
		cmocka_unit_test(test_stamp_ok),
	};

	return cmocka_run_group_tests_name("ticket", tests, NULL, NULL);
}
