/* SPDX-License-Identifier: ISC */
/*
 * test_rds.c - unit tests of the parts of shared/rds.c that need no server:
 * the node list of redis_nodes (rds_init connects nothing) and the node of
 * a zone, which must be the shard of its hash tag (keys.c).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "keys.h"
#include "rds.h"

static void
test_node_lists(void **state)
{
	static const struct {
		const char	*nodes;
		int		 ret;
		unsigned	 n;
		const char	*host0;
		int		 port0;
	} cases[] = {
		{ "127.0.0.1:6379", 0, 1, "127.0.0.1", 6379 },
		{ "a:1,b:65535", 0, 2, "a", 1 },
		{ "redis-0.local:7000,redis-1.local:7001,x:3", 0, 3,
		    "redis-0.local", 7000 },
		{ "", -1, 0, NULL, 0 },
		{ "localhost", -1, 0, NULL, 0 },		/* no port */
		{ ":6379", -1, 0, NULL, 0 },			/* no host */
		{ "h:", -1, 0, NULL, 0 },
		{ "h:0", -1, 0, NULL, 0 },
		{ "h:65536", -1, 0, NULL, 0 },
		{ "h:12x", -1, 0, NULL, 0 },
		{ "h:1,h:123456789", -1, 0, NULL, 0 },
		{ "h:1,h:2,h:3,h:4,h:5,h:6,h:7,h:8,h:9,h:10,h:11,h:12,h:13,"
		    "h:14,h:15,h:16,h:17", -1, 0, NULL, 0 },	/* > 16 */
	};
	struct rds	r;
	size_t		i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		if (rds_init(&r, cases[i].nodes, 100) != cases[i].ret)
			fail_msg("rds_init(\"%s\") != %d", cases[i].nodes,
			    cases[i].ret);
		if (cases[i].ret != 0) {
			assert_true(r.errstr[0] != '\0');
			continue;
		}
		assert_int_equal(r.n, cases[i].n);
		assert_string_equal(r.nodes[0].host, cases[i].host0);
		assert_int_equal(r.nodes[0].port, cases[i].port0);
		assert_null(r.nodes[0].ctx);		/* nothing connected */
		rds_close(&r);
	}
}

static void
test_node_of_a_zone_is_its_shard(void **state)
{
	static const char *const events[] = { "Event1", "Event2", "E", "x-y_z" };
	struct rds	r1, r3;
	char		tag[TAG_MAX];
	size_t		i;
	long		z;

	(void)state;
	assert_int_equal(rds_init(&r1, "h:1", 100), 0);
	assert_int_equal(rds_init(&r3, "h:1,h:2,h:3", 100), 0);
	for (i = 0; i < sizeof(events) / sizeof(events[0]); i++)
		for (z = 1; z <= 40; z++) {
			assert_true(keys_tag(events[i], z, tag,
			    sizeof(tag)) >= 0);
			assert_int_equal(rds_node_for(&r1, tag), 0);
			assert_int_equal(rds_node_for(&r3, tag),
			    keys_shard(tag, 3));
			assert_true(rds_node_for(&r3, tag) < 3);
		}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_node_lists),
		cmocka_unit_test(test_node_of_a_zone_is_its_shard),
	};

	return cmocka_run_group_tests_name("rds", tests, NULL, NULL);
}
