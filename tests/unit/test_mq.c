/* SPDX-License-Identifier: ISC */
/*
 * test_mq.c - unit tests of shared/mq.c without a broker: how a frame read
 * while waiting for a publisher confirm is classified (mq_frame_class()),
 * and the names of the outcomes.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "mq.h"

#define ACK	AMQP_BASIC_ACK_METHOD
#define NACK	AMQP_BASIC_NACK_METHOD

static void
test_frame_class(void **state)
{
	static const struct {
		uint8_t		 type;
		amqp_method_number_t id;
		uint64_t	 dtag;		/* of the ack or nack */
		int		 multiple;
		enum mq_frame	 want;		/* waiting for tag 5 */
	} cases[] = {
		{ AMQP_FRAME_METHOD, ACK, 5, 0, MQ_FRAME_ACK },
		{ AMQP_FRAME_METHOD, ACK, 4, 0, MQ_FRAME_SKIP },
		{ AMQP_FRAME_METHOD, ACK, 4, 1, MQ_FRAME_SKIP },
		{ AMQP_FRAME_METHOD, ACK, 6, 0, MQ_FRAME_SKIP },
		{ AMQP_FRAME_METHOD, ACK, 6, 1, MQ_FRAME_ACK },
		{ AMQP_FRAME_METHOD, ACK, 5, 1, MQ_FRAME_ACK },
		{ AMQP_FRAME_METHOD, NACK, 5, 0, MQ_FRAME_NACK },
		{ AMQP_FRAME_METHOD, NACK, 9, 1, MQ_FRAME_NACK },
		{ AMQP_FRAME_METHOD, NACK, 3, 1, MQ_FRAME_SKIP },
		{ AMQP_FRAME_METHOD, AMQP_BASIC_RETURN_METHOD, 0, 0,
		    MQ_FRAME_RETURN },
		{ AMQP_FRAME_METHOD, AMQP_CHANNEL_CLOSE_METHOD, 0, 0,
		    MQ_FRAME_CHANNEL_CLOSE },
		{ AMQP_FRAME_METHOD, AMQP_CONNECTION_CLOSE_METHOD, 0, 0,
		    MQ_FRAME_OTHER },
		{ AMQP_FRAME_METHOD, AMQP_CONNECTION_BLOCKED_METHOD, 0, 0,
		    MQ_FRAME_OTHER },
		{ AMQP_FRAME_HEADER, AMQP_BASIC_ACK_METHOD, 5, 0,
		    MQ_FRAME_SKIP },
		{ AMQP_FRAME_BODY, 0, 0, 0, MQ_FRAME_SKIP },
		{ AMQP_FRAME_HEARTBEAT, 0, 0, 0, MQ_FRAME_SKIP },
	};
	amqp_frame_t		f;
	amqp_basic_ack_t	ack;
	amqp_basic_nack_t	nack;
	size_t			i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		memset(&f, 0, sizeof(f));
		memset(&ack, 0, sizeof(ack));
		memset(&nack, 0, sizeof(nack));
		f.frame_type = cases[i].type;
		f.channel = 1;
		f.payload.method.id = cases[i].id;
		ack.delivery_tag = nack.delivery_tag = cases[i].dtag;
		ack.multiple = (amqp_boolean_t)cases[i].multiple;
		nack.multiple = ack.multiple;
		f.payload.method.decoded = cases[i].id ==
		    AMQP_BASIC_NACK_METHOD ? (void *)&nack : (void *)&ack;
		if (mq_frame_class(&f, 5) != cases[i].want)
			fail_msg("case %zu: %s, want %s", i,
			    mq_frame_str(mq_frame_class(&f, 5)),
			    mq_frame_str(cases[i].want));
	}
}

static void
test_names(void **state)
{
	(void)state;
	assert_string_equal(mq_result_str(MQ_OK), "confirmed");
	assert_string_equal(mq_frame_str(MQ_FRAME_ACK), "ACK");
	assert_string_equal(mq_frame_str(MQ_FRAME_OTHER), "OTHER");
	assert_string_equal(mq_frame_str(MQ_FRAME__MAX), "?");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_frame_class),
		cmocka_unit_test(test_names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
