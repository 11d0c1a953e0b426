/* SPDX-License-Identifier: ISC */
/*
 * mqtool - a test helper that talks to the broker with the project's own
 * settings: count, get (consume and ack), peek (read and requeue), purge,
 * publish (with confirm, to ticket.exchange or straight to one queue).
 *
 *   mqtool [-c config] count QUEUE
 *   mqtool [-c config] get QUEUE [MAX]       bodies, one per line
 *   mqtool [-c config] peek QUEUE [MAX]      same, messages stay queued
 *   mqtool [-c config] purge QUEUE
 *   mqtool [-c config] publish [-q QUEUE] [-n TIMES] BODY|-   (-: one body
 *                                            per line of standard input)
 *   mqtool [-c config] declare               the topology (mq_declare_topology),
 *                                            as ticketctl init declares it
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <amqp.h>

#include "conf.h"
#include "mq.h"
#include "start.h"

static void
usage(void)
{
	fprintf(stderr, "usage: mqtool [-c config] count|get|peek|purge QUEUE "
	    "[MAX]\n       mqtool [-c config] publish [-q QUEUE] [-n TIMES] "
	    "BODY|-\n       mqtool [-c config] declare\n");
	exit(2);
}

static int
fetch(struct mq *m, const char *queue, long max, int ack)
{
	amqp_rpc_reply_t	 r;
	amqp_message_t		 msg;
	long			 n;

	for (n = 0; n < max; n++) {
		amqp_maybe_release_buffers(m->conn);
		r = amqp_basic_get(m->conn, 1, amqp_cstring_bytes(queue), 0);
		if (r.reply_type != AMQP_RESPONSE_NORMAL) {
			fprintf(stderr, "mqtool: basic.get failed\n");
			return 1;
		}
		if (r.reply.id == AMQP_BASIC_GET_EMPTY_METHOD)
			break;
		{
			amqp_basic_get_ok_t *ok = r.reply.decoded;
			uint64_t tag = ok->delivery_tag;

			if (amqp_read_message(m->conn, 1, &msg, 0).reply_type !=
			    AMQP_RESPONSE_NORMAL) {
				fprintf(stderr, "mqtool: read failed\n");
				return 1;
			}
			fwrite(msg.body.bytes, 1, msg.body.len, stdout);
			putchar('\n');
			amqp_destroy_message(&msg);
			if (ack)
				amqp_basic_ack(m->conn, 1, tag, 0);
		}
	}
	fflush(stdout);
	/* closing the channel requeues whatever was not acked */
	return 0;
}

/* Publishes body times times: straight into queue if not NULL, else to
 * ticket.exchange with a confirm.  Returns 0 or 1. */
static int
publish(struct mq *m, const char *queue, const char *body, long times)
{
	long	i;
	int	ret = 0;

	for (i = 0; i < times && ret == 0; i++) {
		if (queue != NULL) {
			amqp_basic_properties_t p;

			memset(&p, 0, sizeof(p));
			p._flags = AMQP_BASIC_DELIVERY_MODE_FLAG;
			p.delivery_mode = AMQP_DELIVERY_PERSISTENT;
			ret = amqp_basic_publish(m->conn, 1, amqp_empty_bytes,
			    amqp_cstring_bytes(queue), 1, 0, &p,
			    amqp_cstring_bytes(body)) != 0;
		} else if (mq_publish(m, body, strlen(body), "mqtool", 5000) !=
		    MQ_OK) {
			fprintf(stderr, "mqtool: %s\n", m->errstr);
			ret = 1;
		}
	}
	return ret;
}

int
main(int argc, char **argv)
{
	struct conf	 c;
	struct mq	 m;
	const char	*path = NULL, *queue = NULL, *cmd;
	long		 max = 1000000, times = 1, n;
	int		 ch, ret = 0;

	while ((ch = getopt(argc, argv, "+c:")) != -1) {
		if (ch == 'c')
			path = optarg;
		else
			usage();
	}
	argc -= optind;
	argv += optind;
	if (argc < 1)
		usage();
	cmd = argv[0];
	if (start_conf("mqtool", path, &c) != 0)
		return 1;
	(void)mq_init_conf(&m, &c, "mqtool");
	if (strcmp(cmd, "publish") == 0) {
		optind = 1;
		while ((ch = getopt(argc, argv, "q:n:")) != -1) {
			if (ch == 'q')
				queue = optarg;
			else if (ch == 'n')
				times = strtol(optarg, NULL, 10);
			else
				usage();
		}
		if (optind != argc - 1)
			usage();
		/* confirm mode only for the exchange (mq_publish waits for
		 * each confirm): straight into a queue nothing is read back,
		 * and confirms left unread made the close reset the
		 * connection, losing the last messages sent */
		if (mq_connect(&m, queue == NULL) != 0) {
			fprintf(stderr, "mqtool: %s\n", m.errstr);
			return 1;
		}
		if (strcmp(argv[optind], "-") != 0)
			ret = publish(&m, queue, argv[optind], times);
		else {
			/* one body per line of standard input */
			char	*line = NULL;
			size_t	 cap = 0;
			ssize_t	 len;

			while (ret == 0 &&
			    (len = getline(&line, &cap, stdin)) > 0) {
				if (line[len - 1] == '\n')
					line[len - 1] = '\0';
				if (line[0] != '\0')
					ret = publish(&m, queue, line, times);
			}
			free(line);
		}
		/* a round trip on the channel: the broker has taken every
		 * message before it (frames of a channel are handled in order) */
		if (ret == 0 && queue != NULL) {
			amqp_queue_declare(m.conn, 1, amqp_cstring_bytes(queue), 1,
			    0, 0, 0, amqp_empty_table);
			if (amqp_get_rpc_reply(m.conn).reply_type !=
			    AMQP_RESPONSE_NORMAL) {
				fprintf(stderr, "mqtool: publish to %s not "
				    "acknowledged\n", queue);
				ret = 1;
			}
		}
		mq_close(&m);
		return ret;
	}
	if (strcmp(cmd, "declare") == 0) {
		if (mq_connect(&m, 0) != 0 || mq_declare_topology(&m,
		    c.amqp_queue_max_length, c.amqp_queue_type,
		    c.amqp_quorum_replicas) != 0) {
			fprintf(stderr, "mqtool: %s\n", m.errstr);
			return 1;
		}
		mq_close(&m);
		return 0;
	}
	if (argc < 2)
		usage();
	queue = argv[1];
	if (argc > 2)
		max = strtol(argv[2], NULL, 10);
	if (mq_connect(&m, 0) != 0) {
		fprintf(stderr, "mqtool: %s\n", m.errstr);
		return 1;
	}
	if (strcmp(cmd, "count") == 0) {
		if ((n = mq_queue_depth(&m, queue, NULL)) < 0) {
			fprintf(stderr, "mqtool: %s\n", m.errstr);
			return 1;
		}
		printf("%ld\n", n);
	} else if (strcmp(cmd, "get") == 0 || strcmp(cmd, "peek") == 0) {
		ret = fetch(&m, queue, max, cmd[0] == 'g');
	} else if (strcmp(cmd, "purge") == 0) {
		amqp_queue_purge(m.conn, 1, amqp_cstring_bytes(queue));
		ret = amqp_get_rpc_reply(m.conn).reply_type != AMQP_RESPONSE_NORMAL;
	} else
		usage();
	mq_close(&m);
	return ret;
}
