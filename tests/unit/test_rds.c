/* SPDX-License-Identifier: ISC */
/*
 * test_rds.c - unit tests of the parts of shared/rds.c that need no server:
 * redis_nodes and redis_mode (rds_init connects nothing), and the settings
 * that derive from them; and how rds_eval() reads a script's error reply,
 * against a scripted peer on a unix socket.
 */
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "keys.h"
#include "rds.h"

static void
test_node_lists(void **state)
{
#define LONG_PATH "0123456789abcdef0123456789abcdef0123456789abcdef" \
	"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef" \
	"0123456789abcdef"
/* with the leading '/': 107 bytes, the longest a sockaddr_un carries */
#define PATH_107 "0123456789abcdef0123456789abcdef0123456789abcdef" \
	"0123456789abcdef0123456789abcdef0123456789abcdef0123456789"
	static const struct {
		enum rds_mode	 mode;
		const char	*nodes;
		int		 ret;
		const char	*host;
		int		 port;
	} cases[] = {
		{ RDS_SINGLE, "127.0.0.1:6379", 0, "127.0.0.1", 6379 },
		{ RDS_SINGLE, "redis-0.local:7000", 0, "redis-0.local", 7000 },
		{ RDS_SINGLE, "a:1,b:2", -1, NULL, 0 },	/* a list: cluster */
		{ RDS_SINGLE, "", -1, NULL, 0 },
		{ RDS_SINGLE, "localhost", -1, NULL, 0 },	/* no port */
		{ RDS_SINGLE, ":6379", -1, NULL, 0 },	/* no host */
		{ RDS_SINGLE, "h:", -1, NULL, 0 },
		{ RDS_SINGLE, "h:0", -1, NULL, 0 },
		{ RDS_SINGLE, "h:65536", -1, NULL, 0 },
		{ RDS_SINGLE, "h:12x", -1, NULL, 0 },
		/* IPv6: in brackets, or bare with the port after the last ':' */
		{ RDS_SINGLE, "[::1]:6380", 0, "::1", 6380 },
		{ RDS_SINGLE, "::1:6381", 0, "::1", 6381 },
		{ RDS_SINGLE, "[::1]", -1, NULL, 0 },	/* no port */
		{ RDS_SINGLE, "[::1:6379", -1, NULL, 0 },
		/* a unix socket: its path, port 0 */
		{ RDS_SINGLE, "/run/redis/redis.sock", 0,
		    "/run/redis/redis.sock", 0 },
		{ RDS_SINGLE, "/var/run/a:b.sock", 0, "/var/run/a:b.sock", 0 },
		{ RDS_SINGLE, "/" LONG_PATH, -1, NULL, 0 },	/* > 107 bytes */
		{ RDS_SINGLE, "/" PATH_107, 0, "/" PATH_107, 0 },
		{ RDS_SINGLE, "run/redis.sock", -1, NULL, 0 },	/* relative */
		{ RDS_CLUSTER, "/run/redis/redis.sock", -1, NULL, 0 },
		{ RDS_CLUSTER, "a:1,b:65535", 0, NULL, 0 },
		{ RDS_CLUSTER, "h:1", 0, NULL, 0 },
		{ RDS_CLUSTER, "", -1, NULL, 0 },
		{ RDS_CLUSTER, "h:1,nope", -1, NULL, 0 },
		{ RDS_CLUSTER, "[::1]:7001, [::1]:7002", 0, NULL, 0 },
		{ RDS_CLUSTER, "[::1]:7001,[::1]", -1, NULL, 0 },
	};
	struct rds	r;
	size_t		i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		if (rds_init(&r, cases[i].mode, cases[i].nodes, 100, 100) !=
		    cases[i].ret)
			fail_msg("rds_init(%s, \"%s\") != %d",
			    rds_mode_str(cases[i].mode), cases[i].nodes,
			    cases[i].ret);
		if (cases[i].ret != 0) {
			assert_true(r.errstr[0] != '\0');
			assert_int_equal(r.err, ERR_OTHER);
			rds_close(&r);
			continue;
		}
		assert_null(r.ctx);		/* nothing connected */
		if (cases[i].mode == RDS_SINGLE) {
			assert_string_equal(r.host, cases[i].host);
			assert_int_equal(r.port, cases[i].port);
		} else
			assert_non_null(r.cl);
		rds_close(&r);
	}
}

static void
test_conf(void **state)
{
	struct conf	c;
	struct rds	r;

	(void)state;
	memset(&c, 0, sizeof(c));
	strcpy(c.redis_nodes, "127.0.0.1:1");
	strcpy(c.redis_mode, "single");
	strcpy(c.redis_wait_short, "release");
	strcpy(c.redis_read_from, "master");
	c.redis_timeout_ms = 100;
	c.redis_read_max_lag_ms = 250;
	c.redis_wait_replicas = -1;
	assert_int_equal(rds_init_conf(&r, &c), 0);
	assert_int_equal(r.mode, RDS_SINGLE);
	assert_int_equal(r.wait_replicas, 0);	/* -1: none in single mode */
	rds_close(&r);
	strcpy(c.redis_mode, "cluster");
	assert_int_equal(rds_init_conf(&r, &c), 0);
	assert_int_equal(r.mode, RDS_CLUSTER);
	assert_int_equal(r.wait_replicas, 1);	/* -1: one in cluster mode */
	assert_int_equal(r.wait_release, 1);
	assert_int_equal(r.read_replica, 0);
	rds_close(&r);
	strcpy(c.redis_read_from, "replica");
	assert_int_equal(rds_init_conf(&r, &c), 0);
	assert_int_equal(r.read_replica, 1);
	assert_int_equal(r.cl->read_max_lag_ms, 250);
	rds_close(&r);
	strcpy(c.redis_read_from, "slave");
	assert_int_equal(rds_init_conf(&r, &c), -1);
	assert_non_null(strstr(r.errstr, "redis_read_from"));
	strcpy(c.redis_read_from, "master");
	c.redis_wait_replicas = 0;
	strcpy(c.redis_wait_short, "publish");
	assert_int_equal(rds_init_conf(&r, &c), 0);
	assert_int_equal(r.wait_replicas, 0);
	assert_int_equal(r.wait_release, 0);
	rds_close(&r);
	strcpy(c.redis_wait_short, "maybe");
	assert_int_equal(rds_init_conf(&r, &c), -1);
	strcpy(c.redis_wait_short, "release");
	strcpy(c.redis_mode, "shards");
	assert_int_equal(rds_init_conf(&r, &c), -1);
	assert_non_null(strstr(r.errstr, "redis_mode"));
	assert_string_equal(rds_mode_str(RDS_CLUSTER), "cluster");
	assert_string_equal(rds_mode_str(RDS_MODE__MAX), "?");
}

#define SHA	"0123456789abcdef0123456789abcdef01234567"

/* Error replies to EVALSHA, each with whether the script may have written
 * (script_failed).  The first two are Redis 7.0's texts of a script
 * command that failed and of a Lua error; "user_script" comes last in the
 * first, and a long socket path once pushed it out of errstr (cut at
 * ERRSTR_MAX), which made a sale that may have written "nothing sold". */
static const struct {
	const char	*reply;
	int		 wrote;
} evals[] = {
	{ "-WRONGTYPE Operation against a key holding the wrong kind of "
	  "value script: " SHA ", on @user_script:355.\r\n", 1 },
	{ "-ERR user_script:1: Script attempted to access nonexistent global "
	  "variable 'x' script: " SHA ", on @user_script:1.\r\n", 1 },
	{ "-OOM command not allowed when used memory > 'maxmemory'. script: "
	  SHA ", on @user_script:367.\r\n", 0 },
	{ "-BUSY Redis is busy running a script. You can only call SCRIPT "
	  "KILL or SHUTDOWN NOSAVE.\r\n", 0 },
	{ "-LOADING Redis is loading the dataset in memory\r\n", 0 },
};

/* The scripted Redis: answers each command read on its one connection
 * with the next of evals. */
static void
serve_evals(int lfd)
{
	char	buf[4096];
	size_t	i;
	int	fd;

	if ((fd = accept(lfd, NULL, NULL)) < 0)
		_exit(1);
	for (i = 0; i < sizeof(evals) / sizeof(evals[0]); i++) {
		if (read(fd, buf, sizeof(buf)) <= 0 ||
		    write(fd, evals[i].reply, strlen(evals[i].reply)) < 0)
			_exit(1);
	}
	while (read(fd, buf, sizeof(buf)) > 0)
		;
	_exit(0);
}

static void
test_eval_error_replies(void **state)
{
	struct sockaddr_un	 sun;
	struct rds		 r;
	char			 dir[64], path[108];
	const char		*argv[1] = { "k" };
	size_t			 i;
	pid_t			 pid;
	int			 lfd, st;

	(void)state;
	/* the longest path a unix socket takes: 107 bytes */
	snprintf(dir, sizeof(dir), "/tmp/test_rds.XXXXXX");
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/%0*d.sock", dir,
	    (int)(sizeof(path) - strlen(dir) - 7), 0);
	assert_int_equal(strlen(path), 107);
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	memcpy(sun.sun_path, path, strlen(path) + 1);
	assert_true((lfd = socket(AF_UNIX, SOCK_STREAM, 0)) >= 0);
	assert_int_equal(bind(lfd, (struct sockaddr *)&sun, sizeof(sun)), 0);
	assert_int_equal(listen(lfd, 1), 0);
	if ((pid = fork()) == 0)
		serve_evals(lfd);
	assert_true(pid > 0);
	assert_int_equal(rds_init(&r, RDS_SINGLE, path, 2000, 0), 0);
	memcpy(r.sha[SCRIPT_ORDER], SHA, sizeof(SHA));	/* no SCRIPT LOAD */
	for (i = 0; i < sizeof(evals) / sizeof(evals[0]); i++) {
		assert_null(rds_eval(&r, 0, SCRIPT_ORDER, 1, 1, argv));
		assert_int_equal(r.in_doubt, 0);
		assert_int_equal(r.script_failed, evals[i].wrote);
		assert_int_equal(r.err, ERR_SERVER);
		/* what errstr kept of the first has no "user_script" to
		 * find (the old test in sale.c) */
		if (i == 0)
			assert_null(strstr(r.errstr, "user_script"));
	}
	rds_close(&r);
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	close(lfd);
	unlink(path);
	rmdir(dir);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_node_lists),
		cmocka_unit_test(test_conf),
		cmocka_unit_test(test_eval_error_replies),
	};

	return cmocka_run_group_tests_name("rds", tests, NULL, NULL);
}
