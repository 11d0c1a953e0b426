/* SPDX-License-Identifier: ISC */
/*
 * test_sink.c - unit tests of consumer/sink.c: which item of a batch
 * leads the others that carry the same id (sink_leaders()), so that a
 * message delivered twice in one batch is written once.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "sink.h"
#include "unit.h"

static void
test_leaders(void **state)
{
	static const struct {
		enum msg_kind	 kind;
		const char	*id;
		enum pipe_state	 state;
		size_t		 lead;
	} cases[] = {
		{ MSG_TICKET, T_ID, PIPE_NEW, 0 },
		{ MSG_TICKET, T_ID, PIPE_NEW, 0 },	/* a redelivery */
		{ MSG_TICKET, T_ID2, PIPE_NEW, 2 },
		{ MSG_TICKET, T_ID, PIPE_DONE, 3 },	/* settled: alone */
		{ MSG_ORDER, T_ID, PIPE_NEW, 4 },	/* another kind */
		{ MSG_ORDER, T_ID, PIPE_RETRY, 4 },
		{ MSG_CANCEL, T_ID, PIPE_NEW, 6 },	/* each its own */
		{ MSG_CANCEL, T_ID, PIPE_NEW, 7 },
		{ MSG_TICKET, T_ID2, PIPE_RETRY, 2 },
		{ MSG_TICKET, T_ID2, PIPE_DEAD, 9 },
	};
	enum { N = sizeof(cases) / sizeof(cases[0]) };
	struct item	items[N];
	size_t		lead[N], i;

	(void)state;
	memset(items, 0, sizeof(items));
	for (i = 0; i < N; i++) {
		unit_sample(&items[i].t, cases[i].id);
		items[i].kind = cases[i].kind;
		items[i].state = cases[i].state;
	}
	sink_leaders(items, N, lead);
	for (i = 0; i < N; i++)
		if (lead[i] != cases[i].lead)
			fail_msg("item %zu: lead %zu, want %zu", i, lead[i],
			    cases[i].lead);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_leaders),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
