/* SPDX-License-Identifier: ISC */
/*
 * test_pubframe.c - unit tests of shared/pubframe.c, the frames between a
 * responder and pubd: a request and an answer round-trip, every prefix of
 * a frame asks for more, two frames in one buffer parse one by one, and
 * lengths, timeouts, flags and bytes out of range are refused.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "mq.h"
#include "pubframe.h"
#include "unit.h"

static const char body[] = "{\"orderId\":\"" T_ID "\"}";

static void
test_request_round_trip(void **state)
{
	uint8_t			 buf[1024];
	struct pubframe_req	 r;
	const char		*why = NULL;
	long			 n, k;

	(void)state;
	n = pubframe_req_encode(buf, sizeof(buf), T_ID, MQ_EXCHANGE,
	    MQ_ROUTING_KEY, 1, 1500, body, strlen(body));
	assert_true(n > PUBFRAME_HDR);
	/* a second frame right behind the first */
	k = pubframe_req_encode(buf + n, sizeof(buf) - n, T_ID2, "",
	    MQ_CANCEL_KEY, 0, 5000, "", 0);
	assert_true(k > 0);
	for (long i = 0; i < n; i++)
		assert_int_equal(pubframe_req_parse(buf, (size_t)i, &r, &why),
		    PUBFRAME_MORE);
	assert_int_equal(pubframe_req_parse(buf, (size_t)(n + k), &r, &why), n);
	assert_string_equal(r.id, T_ID);
	assert_string_equal(r.exchange, MQ_EXCHANGE);
	assert_string_equal(r.key, MQ_ROUTING_KEY);
	assert_int_equal(r.mandatory, 1);
	assert_int_equal(r.timeout_ms, 1500);
	assert_int_equal(r.bodylen, strlen(body));
	assert_memory_equal(r.body, body, strlen(body));
	assert_int_equal(pubframe_req_parse(buf + n, (size_t)k, &r, &why), k);
	assert_string_equal(r.id, T_ID2);
	assert_string_equal(r.exchange, "");
	assert_int_equal(r.mandatory, 0);
	assert_int_equal(r.bodylen, 0);
}

static void
test_request_refused(void **state)
{
	uint8_t			 buf[1024], bad[1024];
	struct pubframe_req	 r;
	const char		*why;
	long			 n;

	(void)state;
	/* out of range at encoding */
	assert_int_equal(pubframe_req_encode(buf, sizeof(buf), "", "x", "k",
	    1, 10, "", 0), -1);
	assert_int_equal(pubframe_req_encode(buf, sizeof(buf), "i", "x", "k",
	    1, 0, "", 0), -1);
	assert_int_equal(pubframe_req_encode(buf, 16, "i", "x", "k", 1, 10,
	    body, strlen(body)), -1);
	n = pubframe_req_encode(buf, sizeof(buf), T_ID, MQ_EXCHANGE,
	    MQ_ROUTING_KEY, 1, 1500, body, strlen(body));
	assert_true(n > 0);

	/* magic, flags, lengths, timeout, body cap, unprintable id */
	static const struct { int off; uint8_t v; } cases[] = {
		{ 0, 'X' }, { 1, 'A' }, { 2, 0x02 }, { 3, 0 },
		{ 3, PUBFRAME_ID_MAX + 1 }, { 5, 0 }, { 5, PUBFRAME_NAME_MAX + 1 },
		{ 6, 0xff }, { 10, 0x7f }, { PUBFRAME_HDR + 3, '\n' },
		{ PUBFRAME_HDR + 3, ' ' },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		memcpy(bad, buf, (size_t)n);
		bad[cases[i].off] = cases[i].v;
		why = NULL;
		assert_int_equal(pubframe_req_parse(bad, (size_t)n, &r, &why),
		    PUBFRAME_BAD);
		assert_non_null(why);
	}
	/* a zero timeout */
	memcpy(bad, buf, (size_t)n);
	memset(bad + 6, 0, 4);
	assert_int_equal(pubframe_req_parse(bad, (size_t)n, &r, &why),
	    PUBFRAME_BAD);
}

static void
test_answer_round_trip(void **state)
{
	uint8_t			 buf[PUBFRAME_ANS_MAX];
	struct pubframe_ans	 a;
	const char		*why;
	long			 n;

	(void)state;
	n = pubframe_ans_encode(buf, sizeof(buf), MQ_UNKNOWN, T_ID,
	    "no confirm\nin time");
	assert_true(n > 0);
	assert_int_equal(pubframe_ans_parse(buf, (size_t)n - 1, &a, &why),
	    PUBFRAME_MORE);
	assert_int_equal(pubframe_ans_parse(buf, (size_t)n, &a, &why), n);
	assert_int_equal(a.result, MQ_UNKNOWN);
	assert_string_equal(a.id, T_ID);
	assert_string_equal(a.why, "no confirm?in time");
	n = pubframe_ans_encode(buf, sizeof(buf), MQ_OK, T_ID, "");
	assert_int_equal(pubframe_ans_parse(buf, (size_t)n, &a, &why), n);
	assert_int_equal(a.result, MQ_OK);
	assert_string_equal(a.why, "");
	buf[2] = 3;
	assert_int_equal(pubframe_ans_parse(buf, (size_t)n, &a, &why),
	    PUBFRAME_BAD);
	assert_int_equal(pubframe_ans_encode(buf, sizeof(buf), 7, T_ID, ""), -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_request_round_trip),
		cmocka_unit_test(test_request_refused),
		cmocka_unit_test(test_answer_round_trip),
	};

	return cmocka_run_group_tests_name("pubframe", tests, NULL, NULL);
}
