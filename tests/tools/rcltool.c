/* SPDX-License-Identifier: ISC */
/*
 * rcltool - drives one shared/rcluster.c client from stdin, for the cluster
 * tests (tests/cluster): one command per line, one answer line each.
 *
 *   rcltool SEEDS [TIMEOUT_MS RETRY_MS]
 *   rcltool -1 SERVER [TIMEOUT_MS]
 *   rcltool -r SEEDS [TIMEOUT_MS RETRY_MS]
 *
 * -1: the single-server client of shared/rds.c instead (SERVER host:port
 * or a unix socket's path); -r: shared/rds.c in cluster mode.  Both
 * understand only M, sent with rds_argv(), and CLAIM TAG, lua/claim.lua
 * (rds_eval()) on bo:pend/sweep/ords:{TAG} claiming nothing (cutoff 0);
 * a failure answers "FAIL in_doubt=<0|1> err=<kind> moving=<0|1> ...".
 *
 *   M ARG...        the command ARG... on the master of ARG[1]'s slot
 *   R ARG...        the same on its replica (READONLY), else the master
 *   WAIT N MS       WAIT on the connection of the last master command
 *   NODE KEY        host:port of the master of KEY's slot now
 *   STATS           the client's counters
 *   AGE             makes the map older than RCL_MAP_MAX_AGE_MS (the next
 *                   command asks for it again, outside a transaction)
 *
 * Answers: "OK <reply>" (string, status, integer, "(nil)", "[n]" for an
 * array of n), "ERRREPLY <error reply>", or "FAIL in_doubt=<0|1> <errstr>".
 * Words are split on blanks: keys and values must not contain any.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rcluster.h"
#include "rds.h"

#define ARGS_MAX	32

static void
print_reply(const redisReply *r)
{
	switch (r->type) {
	case REDIS_REPLY_ERROR:
		printf("ERRREPLY %s\n", r->str);
		break;
	case REDIS_REPLY_INTEGER:
		printf("OK %lld\n", r->integer);
		break;
	case REDIS_REPLY_NIL:
		printf("OK (nil)\n");
		break;
	case REDIS_REPLY_ARRAY:
		printf("OK [%zu]\n", r->elements);
		break;
	default:
		printf("OK %s\n", r->str);
	}
}

static void
command(struct rcluster *c, enum rcl_route route, int argc, const char **argv)
{
	size_t		 lens[ARGS_MAX];
	redisReply	*r;
	unsigned	 slot = 0;
	int		 i;

	for (i = 0; i < argc; i++)
		lens[i] = strlen(argv[i]);
	if (argc > 1)
		slot = rcl_slot(argv[1], lens[1]);
	if ((r = rcl_command_argv(c, slot, route, argc, argv, lens)) == NULL) {
		printf("FAIL in_doubt=%d %s\n", c->in_doubt, c->errstr);
		return;
	}
	print_reply(r);
	freeReplyObject(r);
}

/* Splits a line of stdin into av (at most ARGS_MAX - 1 words); returns
 * how many. */
static int
split(char *line, const char **av)
{
	char	*save;
	int	 n = 0;

	for (av[n] = strtok_r(line, " \t\r\n", &save);
	    av[n] != NULL && n < ARGS_MAX - 1;
	    av[++n] = strtok_r(NULL, " \t\r\n", &save))
		;
	return n;
}

/* CLAIM TAG: lua/claim.lua on the zone-like keys of TAG, claiming
 * nothing. */
static redisReply *
claim(struct rds *r, const char *tag)
{
	char		 k[3][256];
	const char	*argv[6];
	int		 i;

	for (i = 0; i < 3; i++) {
		snprintf(k[i], sizeof(k[i]), "bo:%s:{%s}", i == 0 ? "pend" :
		    i == 1 ? "sweep" : "ords", tag);
		argv[i] = k[i];
	}
	argv[3] = "0";
	argv[4] = "1";
	argv[5] = "10";
	return rds_eval(r, rcl_slot(tag, strlen(tag)), SCRIPT_CLAIM, 3, 6,
	    argv);
}

/* rcltool -1 and -r: the client of shared/rds.c, in single or cluster
 * mode. */
static int
with_rds(enum rds_mode mode, const char *nodes, int timeout_ms, int retry_ms)
{
	struct rds	 r;
	redisReply	*rep;
	char		 line[4096];
	const char	*av[ARGS_MAX];
	int		 n;

	if (rds_init(&r, mode, nodes, timeout_ms, retry_ms) != 0) {
		fprintf(stderr, "rcltool: %s\n", r.errstr);
		return 1;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	while (fgets(line, sizeof(line), stdin) != NULL) {
		if ((n = split(line, av)) == 0)
			continue;
		if (strcmp(av[0], "M") == 0 && n >= 2)
			rep = rds_argv(&r, n > 2 ? rcl_slot(av[2],
			    strlen(av[2])) : 0, n - 1, av + 1, NULL);
		else if (strcmp(av[0], "CLAIM") == 0 && n == 2)
			rep = claim(&r, av[1]);
		else if (strcmp(av[0], "WAIT") == 0 && n == 3) {
			int got = rds_wait(&r, 0, atoi(av[1]), atoi(av[2]));

			if (got < 0)
				printf("FAIL err=%s %s\n", err_kind_str(r.err),
				    r.errstr);
			else
				printf("OK %d\n", got);
			continue;
		} else {
			printf("FAIL in_doubt=0 unknown command\n");
			continue;
		}
		if (rep == NULL) {
			printf("FAIL in_doubt=%d err=%s moving=%d %s\n",
			    r.in_doubt, err_kind_str(r.err), r.moving,
			    r.errstr);
			continue;
		}
		print_reply(rep);
		freeReplyObject(rep);
	}
	rds_close(&r);
	return 0;
}

int
main(int argc, char **argv)
{
	struct rcluster	*c;
	char		 line[4096], err[256], buf[RCL_HOST_MAX + 8];
	const char	*av[ARGS_MAX];
	int		 n, timeout_ms = 1000, retry_ms = 2000;

	if (argc >= 3 && argc <= 4 && strcmp(argv[1], "-1") == 0)
		return with_rds(RDS_SINGLE, argv[2], argc == 4 ?
		    atoi(argv[3]) : 1000, 0);
	if ((argc == 3 || argc == 5) && strcmp(argv[1], "-r") == 0)
		return with_rds(RDS_CLUSTER, argv[2], argc == 5 ?
		    atoi(argv[3]) : timeout_ms, argc == 5 ? atoi(argv[4]) :
		    retry_ms);
	if (argc != 2 && argc != 4) {
		fprintf(stderr, "usage: rcltool SEEDS [TIMEOUT_MS RETRY_MS]\n"
		    "       rcltool -1 SERVER [TIMEOUT_MS]\n"
		    "       rcltool -r SEEDS [TIMEOUT_MS RETRY_MS]\n");
		return 2;
	}
	if (argc == 4) {
		timeout_ms = atoi(argv[2]);
		retry_ms = atoi(argv[3]);
	}
	if ((c = rcl_new(argv[1], timeout_ms, retry_ms, err,
	    sizeof(err))) == NULL) {
		fprintf(stderr, "rcltool: %s\n", err);
		return 1;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	while (fgets(line, sizeof(line), stdin) != NULL) {
		if ((n = split(line, av)) == 0)
			continue;
		if ((strcmp(av[0], "M") == 0 || strcmp(av[0], "R") == 0) && n > 1)
			command(c, av[0][0] == 'M' ? RCL_MASTER : RCL_REPLICA,
			    n - 1, av + 1);
		else if (strcmp(av[0], "WAIT") == 0 && n == 3) {
			n = rcl_wait(c, atoi(av[1]), atoi(av[2]));
			if (n < 0)
				printf("FAIL in_doubt=0 %s\n", c->errstr);
			else
				printf("OK %d\n", n);
		} else if (strcmp(av[0], "NODE") == 0 && n == 2) {
			if ((c->have_map || rcl_refresh(c) == 0) &&
			    rcl_node_of(c, rcl_slot(av[1], strlen(av[1])),
			    RCL_MASTER, buf, sizeof(buf)) == 0)
				printf("OK %s\n", buf);
			else
				printf("FAIL in_doubt=0 %s\n", c->errstr);
		} else if (strcmp(av[0], "AGE") == 0 && n == 1) {
			c->map_ms -= RCL_MAP_MAX_AGE_MS + 1;
			printf("OK aged\n");
		} else if (strcmp(av[0], "STATS") == 0)
			printf("OK moved=%lu ask=%lu tryagain=%lu clusterdown=%lu "
			    "refreshes=%lu connects=%lu conn_errors=%lu "
			    "replica_reads=%lu\n", c->moved, c->ask, c->tryagain,
			    c->clusterdown, c->refreshes, c->connects,
			    c->conn_errors, c->replica_reads);
		else
			printf("FAIL in_doubt=0 unknown command\n");
	}
	rcl_free(c);
	return 0;
}
