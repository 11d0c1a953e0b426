/* SPDX-License-Identifier: ISC */
/*
 * test_rcluster.c - unit tests of the pure parts of shared/rcluster.c: the
 * slot of a key (hash tags as Redis Cluster reads them, the keys.c CRC16),
 * a CLUSTER SHARDS reply (built here as hiredis would) into a slot map, and
 * the redirect errors (MOVED, ASK, TRYAGAIN, CLUSTERDOWN).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "keys.h"
#include "rcluster.h"

/* ---- building hiredis replies ---------------------------------------- */

static redisReply *
mk(int type)
{
	redisReply *r = calloc(1, sizeof(*r));

	assert_non_null(r);
	r->type = type;
	return r;
}

static redisReply *
mkstr(const char *s)
{
	redisReply *r = mk(REDIS_REPLY_STRING);

	r->len = strlen(s);
	r->str = strdup(s);
	assert_non_null(r->str);
	return r;
}

static redisReply *
mkint(long long v)
{
	redisReply *r = mk(REDIS_REPLY_INTEGER);

	r->integer = v;
	return r;
}

/* An array of n replies (NULL-free). */
static redisReply *
mkarr(size_t n, ...)
{
	redisReply	*r = mk(REDIS_REPLY_ARRAY);
	va_list		 ap;
	size_t		 i;

	r->elements = n;
	r->element = calloc(n ? n : 1, sizeof(*r->element));
	assert_non_null(r->element);
	va_start(ap, n);
	for (i = 0; i < n; i++)
		r->element[i] = va_arg(ap, redisReply *);
	va_end(ap);
	return r;
}

/* One node of CLUSTER SHARDS, as Redis 7.0 sends it. */
static redisReply *
mknode(const char *ip, int port, const char *role, const char *health)
{
	return mkarr(14, mkstr("id"), mkstr("0123456789abcdef"),
	    mkstr("port"), mkint(port), mkstr("ip"), mkstr(ip),
	    mkstr("endpoint"), mkstr(ip), mkstr("role"), mkstr(role),
	    mkstr("replication-offset"), mkint(42), mkstr("health"),
	    mkstr(health));
}

static redisReply *
mkshard(redisReply *slots, redisReply *nodes)
{
	return mkarr(4, mkstr("slots"), slots, mkstr("nodes"), nodes);
}

/* ---- tests ------------------------------------------------------------ */

static void
test_slot(void **state)
{
	(void)state;
	/* values of CLUSTER KEYSLOT on Redis 7.0 */
	assert_int_equal(rcl_slot("foo", 3), 12182);
	assert_int_equal(rcl_slot("hello", 5), 866);
	assert_int_equal(rcl_slot("somekey", 7), 11058);
	/* a hash tag: only what is inside the first {...} counts */
	assert_int_equal(rcl_slot("{user1000}.following", 20),
	    rcl_slot("{user1000}.followers", 20));
	assert_int_equal(rcl_slot("{user1000}.following", 20),
	    rcl_slot("user1000", 8));
	assert_int_equal(rcl_slot("foo{bar}{zap}", 13), rcl_slot("bar", 3));
	assert_int_equal(rcl_slot("foo{{bar}}zap", 13), rcl_slot("{bar", 4));
	/* an empty tag or none closed: the whole key */
	assert_int_equal(rcl_slot("foo{}{bar}", 10),
	    keys_crc16("foo{}{bar}", 10) % RCL_SLOTS);
	assert_int_equal(rcl_slot("foo{bar", 7), keys_crc16("foo{bar", 7) % RCL_SLOTS);
	/* every key of a zone shares the slot of its tag (keys.h) */
	assert_int_equal(rcl_slot("bo:seat:{Event1:12}", 19),
	    keys_crc16("Event1:12", 9) % RCL_SLOTS);
	assert_int_equal(rcl_slot("bo:left:{Event1:12}", 19),
	    rcl_slot("bo:pend:{Event1:12}", 19));
	/* the length counts, not a NUL */
	assert_int_equal(rcl_slot("foo\0bar", 3), 12182);
}

static void
test_shards(void **state)
{
	struct rcl_map	*m = malloc(sizeof(*m));
	redisReply	*r;
	char		 err[160];

	(void)state;
	assert_non_null(m);
	/* three shards; the second after a failover: its old master failed,
	 * listed before the promoted one; the third without slots */
	r = mkarr(3,
	    mkshard(mkarr(4, mkint(0), mkint(100), mkint(200), mkint(5460)),
		mkarr(2, mknode("127.0.0.1", 7001, "master", "online"),
		    mknode("127.0.0.1", 7004, "replica", "online"))),
	    mkshard(mkarr(2, mkint(5461), mkint(16383)),
		mkarr(2, mknode("127.0.0.1", 7002, "master", "failed"),
		    mknode("127.0.0.1", 7005, "master", "online"))),
	    mkshard(mkarr(0), mkarr(1, mknode("::1", 7003, "master",
		"online"))));
	assert_int_equal(rcl_parse_shards(r, m, err, sizeof(err)),
	    16384 - 99);
	assert_int_equal(m->n, 5);
	assert_string_equal(m->nodes[m->master[0]].host, "127.0.0.1");
	assert_int_equal(m->nodes[m->master[0]].port, 7001);
	assert_int_equal(m->nodes[m->replica[0]].port, 7004);
	assert_int_equal(m->master[101], -1);	/* a hole: served by nobody */
	assert_int_equal(m->replica[150], -1);
	assert_int_equal(m->nodes[m->master[5460]].port, 7001);
	/* the online master, not the failed one */
	assert_int_equal(m->nodes[m->master[5461]].port, 7005);
	assert_int_equal(m->nodes[m->master[16383]].port, 7005);
	assert_int_equal(m->replica[16383], -1);	/* no online replica */
	assert_string_equal(m->nodes[4].host, "::1");
	assert_true(m->nodes[0].master && m->nodes[0].online);
	assert_false(m->nodes[1].master);
	assert_false(m->nodes[2].online);
	freeReplyObject(r);

	/* malformed replies: -1 with a reason, never a partial success */
	r = mkstr("not an array");
	assert_int_equal(rcl_parse_shards(r, m, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "not an array"));
	freeReplyObject(r);
	r = mkarr(1, mkshard(mkarr(2, mkint(0), mkint(16384)),
	    mkarr(1, mknode("h", 1, "master", "online"))));
	assert_int_equal(rcl_parse_shards(r, m, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "slot range"));
	freeReplyObject(r);
	r = mkarr(1, mkshard(mkarr(2, mkint(9), mkint(3)),
	    mkarr(1, mknode("h", 1, "master", "online"))));
	assert_int_equal(rcl_parse_shards(r, m, err, sizeof(err)), -1);
	freeReplyObject(r);
	r = mkarr(1, mkshard(mkarr(3, mkint(0), mkint(1), mkint(2)),
	    mkarr(1, mknode("h", 1, "master", "online"))));
	assert_int_equal(rcl_parse_shards(r, m, err, sizeof(err)), -1);
	freeReplyObject(r);
	r = mkarr(1, mkshard(mkarr(2, mkint(0), mkint(1)),
	    mkarr(1, mknode("h", 70000, "master", "online"))));
	assert_int_equal(rcl_parse_shards(r, m, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "ip/port"));
	freeReplyObject(r);
	r = mkarr(1, mkshard(mkarr(2, mkint(0), mkint(1)),
	    mkarr(1, mknode("h", 1, "replica", "online"))));
	assert_int_equal(rcl_parse_shards(r, m, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "without a master"));
	freeReplyObject(r);
	r = mkarr(1, mkarr(2, mkstr("slots"), mkarr(0)));
	assert_int_equal(rcl_parse_shards(r, m, err, sizeof(err)), -1);
	freeReplyObject(r);
	free(m);
}

static void
test_shards_too_many_nodes(void **state)
{
	struct rcl_map	*m = malloc(sizeof(*m));
	redisReply	*nodes, *r;
	char		 err[160];
	size_t		 i;

	(void)state;
	assert_non_null(m);
	nodes = mk(REDIS_REPLY_ARRAY);
	nodes->elements = RCL_NODES_MAX + 1;
	nodes->element = calloc(nodes->elements, sizeof(*nodes->element));
	assert_non_null(nodes->element);
	for (i = 0; i < nodes->elements; i++)
		nodes->element[i] = mknode("127.0.0.1", (int)(1000 + i),
		    i == 0 ? "master" : "replica", "online");
	r = mkarr(1, mkshard(mkarr(2, mkint(0), mkint(16383)), nodes));
	assert_int_equal(rcl_parse_shards(r, m, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "more than"));
	freeReplyObject(r);
	free(m);
}

static void
test_redirects(void **state)
{
	char	host[16];
	int	slot = -1, port = -1;

	(void)state;
	assert_int_equal(rcl_parse_redirect("MOVED 3999 127.0.0.1:6381",
	    &slot, host, sizeof(host), &port), RCL_REDIR_MOVED);
	assert_int_equal(slot, 3999);
	assert_string_equal(host, "127.0.0.1");
	assert_int_equal(port, 6381);
	assert_int_equal(rcl_parse_redirect("ASK 0 ::1:7000", &slot, host,
	    sizeof(host), &port), RCL_REDIR_ASK);
	assert_int_equal(slot, 0);
	assert_string_equal(host, "::1");
	assert_int_equal(port, 7000);
	/* a bracketed IPv6 address, should a server send one */
	assert_int_equal(rcl_parse_redirect("MOVED 7 [::1]:7001", &slot, host,
	    sizeof(host), &port), RCL_REDIR_MOVED);
	assert_string_equal(host, "::1");
	assert_int_equal(port, 7001);
	assert_int_equal(rcl_parse_redirect("ASK 16383 a:65535", &slot, host,
	    sizeof(host), &port), RCL_REDIR_ASK);
	assert_int_equal(rcl_parse_redirect("TRYAGAIN Multiple keys request "
	    "during rehashing of slot", &slot, host, sizeof(host), &port),
	    RCL_REDIR_TRYAGAIN);
	assert_int_equal(rcl_parse_redirect("CLUSTERDOWN The cluster is down",
	    &slot, host, sizeof(host), &port), RCL_REDIR_CLUSTERDOWN);
	/* what does not parse is an ordinary error, never a redirect to a
	 * made-up node */
	static const char *const bad[] = {
		"MOVED 16384 h:1", "MOVED -1 h:1", "MOVED 1 h", "MOVED 1 h:",
		"MOVED 1 h:0", "MOVED 1 h:65536", "MOVED 1 :80", "MOVED x h:1",
		"MOVED 1", "MOVED", "ASK  h:1", "MOVED 1 averyveryverylonghost:1",
		"ERR unknown command", "moved 1 h:1", "MOVED 1 [::1]",
		"MOVED 1 [h:1", "MOVED 1 []:1", "", NULL
	};
	size_t i;

	for (i = 0; bad[i] != NULL; i++)
		assert_int_equal(rcl_parse_redirect(bad[i], &slot, host,
		    sizeof(host), &port), RCL_REDIR_NONE);
	assert_int_equal(rcl_parse_redirect(NULL, &slot, host, sizeof(host),
	    &port), RCL_REDIR_NONE);
	assert_string_equal(rcl_redirect_str(RCL_REDIR_ASK), "ASK");
	assert_string_equal(rcl_redirect_str(RCL_REDIR__MAX), "?");
}

static void
test_new(void **state)
{
	struct rcluster	*c;
	char		 err[160];

	(void)state;
	c = rcl_new("127.0.0.1:7001,127.0.0.1:7002", 1000, 2000, err,
	    sizeof(err));
	assert_non_null(c);
	assert_int_equal(c->have_map, 0);	/* connects nothing yet */
	assert_int_equal(c->last_node, -1);
	/* no connection behind WAIT yet */
	assert_int_equal(rcl_wait(c, 1, 100), -1);
	rcl_free(c);
	assert_null(rcl_new("", 1000, 2000, err, sizeof(err)));
	assert_null(rcl_new("127.0.0.1", 1000, 2000, err, sizeof(err)));
	assert_non_null(strstr(err, "host:port"));
	assert_null(rcl_new("a:1,b:x", 1000, 2000, err, sizeof(err)));
	/* blanks around the commas are no part of a host (as amqp_hosts) */
	assert_null(rcl_new("a:1, b:x", 1000, 2000, err, sizeof(err)));
	assert_string_equal(err, "redis cluster: 'b:x' is not host:port");
	c = rcl_new(" 127.0.0.1:7001 ,\t127.0.0.1:7002 ", 1000, 2000, err,
	    sizeof(err));
	assert_non_null(c);
	rcl_free(c);
	rcl_free(NULL);
}

/* INFO replication of a replica and of a master (as Redis 7.0 sends them,
 * \r\n line ends), and texts without what a replica read needs. */
static void
test_replication(void **state)
{
	static const char replica[] = "# Replication\r\nrole:slave\r\n"
	    "master_host:127.0.0.1\r\nmaster_port:7001\r\n"
	    "master_link_status:up\r\nmaster_last_io_seconds_ago:0\r\n"
	    "master_sync_in_progress:0\r\nslave_read_repl_offset:154\r\n"
	    "slave_repl_offset:127\r\nslave_priority:100\r\n"
	    "master_repl_offset:127\r\n";
	static const char master[] = "# Replication\r\nrole:master\r\n"
	    "connected_slaves:1\r\nslave0:ip=127.0.0.1,port=7004,"
	    "state=online,offset=127,lag=0\r\nmaster_repl_offset:168\r\n";
	struct rcl_repl p;

	(void)state;
	assert_int_equal(rcl_parse_replication(replica, &p), 0);
	assert_false(p.master);
	assert_string_equal(p.master_host, "127.0.0.1");
	assert_int_equal(p.master_port, 7001);
	assert_true(p.link_up);
	assert_false(p.syncing);
	assert_int_equal(p.offset, 127);	/* applied, not read */
	assert_int_equal(rcl_parse_replication(master, &p), 0);
	assert_true(p.master);
	assert_int_equal(p.offset, 168);
	assert_int_equal(rcl_parse_replication("# Replication\r\nrole:slave\r\n"
	    "master_link_status:down\r\nmaster_sync_in_progress:1\r\n"
	    "slave_repl_offset:5\r\n", &p), 0);
	assert_false(p.link_up);
	assert_true(p.syncing);
	assert_int_equal(p.master_port, 0);
	assert_int_equal(rcl_parse_replication("role:slave\r\n", &p), -1);
	assert_int_equal(rcl_parse_replication("role:sentinel\r\n"
	    "master_repl_offset:1\r\n", &p), -1);
	assert_int_equal(rcl_parse_replication("xrole:master\r\n"
	    "master_repl_offset:1\r\n", &p), -1);
	assert_int_equal(rcl_parse_replication("", &p), -1);
	assert_string_equal(rcl_rstate_str(RCL_RS_BEHIND), "behind");
	assert_string_equal(rcl_rstate_str(RCL_RS__MAX), "?");
}

/* The lag bound from the master's offsets at the looks. */
static void
test_lag(void **state)
{
	struct rcl_mark	none = { 0, 0 }, caught = { 0, 0 };
	struct rcl_mark	m1 = { 50, 4000 }, m2 = { 100, 5000 }, m3 = { 160, 6000 };

	(void)state;
	/* first look, behind what the master had: not known */
	assert_int_equal(rcl_lag_ms(40, 4002, m1, none, &caught), -1);
	/* it has all the master had when this look began: the look's time */
	assert_int_equal(rcl_lag_ms(50, 4003, m1, none, &caught), 3);
	assert_int_equal(caught.off, 50);
	/* short of this look's offset: since the newest it was known at */
	assert_int_equal(rcl_lag_ms(80, 5003, m2, m1, &caught), 1003);
	assert_int_equal(rcl_lag_ms(80, 6003, m3, m2, &caught), 2003);
	/* caught up with the look before (not seen then): since then */
	assert_int_equal(rcl_lag_ms(100, 6004, m3, m2, &caught), 1004);
	assert_int_equal(caught.ms, 5000);
	assert_int_equal(rcl_lag_ms(170, 6005, m3, m2, &caught), 5);
	/* below what it had applied: another history, not known */
	caught.off = 500;
	assert_int_equal(rcl_lag_ms(10, 6006, m3, m2, &caught), -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_slot),
		cmocka_unit_test(test_shards),
		cmocka_unit_test(test_shards_too_many_nodes),
		cmocka_unit_test(test_redirects),
		cmocka_unit_test(test_new),
		cmocka_unit_test(test_replication),
		cmocka_unit_test(test_lag),
	};

	return cmocka_run_group_tests_name("rcluster", tests, NULL, NULL);
}
