/* SPDX-License-Identifier: ISC */
/*
 * rcltool - drives one shared/rcluster.c client from stdin, for the cluster
 * tests (tests/cluster): one command per line, one answer line each.
 *
 *   rcltool SEEDS [TIMEOUT_MS RETRY_MS]
 *   rcltool -1 SERVER [TIMEOUT_MS]
 *
 * -1: the single-server client of shared/rds.c instead (SERVER host:port
 * or a unix socket's path; only M is understood, sent with rds_argv()).
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

/* rcltool -1: the single-server client (shared/rds.c). */
static int
single(const char *server, int timeout_ms)
{
	struct rds	 r;
	redisReply	*rep;
	char		 line[4096];
	const char	*av[ARGS_MAX];
	int		 n;

	if (rds_init(&r, RDS_SINGLE, server, timeout_ms, 0) != 0) {
		fprintf(stderr, "rcltool: %s\n", r.errstr);
		return 1;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	while (fgets(line, sizeof(line), stdin) != NULL) {
		if ((n = split(line, av)) == 0)
			continue;
		if (strcmp(av[0], "M") != 0 || n < 2) {
			printf("FAIL in_doubt=0 unknown command\n");
			continue;
		}
		if ((rep = rds_argv(&r, 0, n - 1, av + 1, NULL)) == NULL) {
			printf("FAIL in_doubt=%d %s\n", r.in_doubt, r.errstr);
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
		return single(argv[2], argc == 4 ? atoi(argv[3]) : 1000);
	if (argc != 2 && argc != 4) {
		fprintf(stderr, "usage: rcltool SEEDS [TIMEOUT_MS RETRY_MS]\n"
		    "       rcltool -1 SERVER [TIMEOUT_MS]\n");
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
