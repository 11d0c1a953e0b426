/* SPDX-License-Identifier: ISC */
/*
 * mqtool - a test helper that talks to the broker with the project's own
 * settings: count, get (consume and ack), peek (read and requeue), purge,
 * publish (with confirms, to ticket.exchange or straight to one queue).
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

/* Confirms of the messages sent straight into a queue (every one is
 * waited for before the connection closes: a quorum queue may drop what a
 * close overtakes). */
static struct {
	unsigned char	*done;		/* done[tag]: confirmed */
	uint64_t	 cap, sent, floor;	/* floor: all up to it done */
} cf;

/* Reads the confirms that came; returns 0, or 1 on a nack or a lost
 * connection. */
static int
confirms_read(struct mq *m)
{
	struct mq_event	 ev;
	uint64_t	 t;
	int		 rc;

	while ((rc = mq_read_event(m, &ev)) == 1) {
		if (ev.kind == MQ_EV_NACK || ev.kind == MQ_EV_CLOSED) {
			fprintf(stderr, "mqtool: the broker refused message "
			    "%llu\n", (unsigned long long)ev.tag);
			return 1;
		}
		if (ev.kind == MQ_EV_RETURN) {
			fprintf(stderr, "mqtool: a message was returned: no "
			    "such queue\n");
			return 1;
		}
		if (ev.kind != MQ_EV_ACK || ev.tag > cf.sent)
			continue;
		for (t = ev.multiple ? cf.floor + 1 : ev.tag; t <= ev.tag; t++)
			cf.done[t] = 1;
		while (cf.floor < cf.sent && cf.done[cf.floor + 1])
			cf.floor++;
	}
	if (rc < 0) {
		fprintf(stderr, "mqtool: %s\n", m->errstr);
		return 1;
	}
	return 0;
}

/* Waits up to 30 s for every confirm; returns 0 or 1. */
static int
confirms_wait(struct mq *m)
{
	int	i;

	for (i = 0; i < 3000 && cf.floor < cf.sent; i++) {
		if (confirms_read(m) != 0)
			return 1;
		if (cf.floor < cf.sent)
			usleep(10000);
	}
	if (cf.floor < cf.sent) {
		fprintf(stderr, "mqtool: %llu of %llu messages not confirmed "
		    "within 30 s\n", (unsigned long long)(cf.sent - cf.floor),
		    (unsigned long long)cf.sent);
		return 1;
	}
	return 0;
}

/* Publishes body times times: straight into queue if not NULL (its
 * confirm read later: confirms_wait()), else to ticket.exchange waiting
 * for its confirm.  Returns 0 or 1. */
static int
publish(struct mq *m, const char *queue, const char *body, long times)
{
	uint64_t	 tag;
	long		 i;
	int		 ret = 0;

	for (i = 0; i < times && ret == 0; i++) {
		if (queue != NULL) {
			if (cf.sent + 2 > cf.cap) {
				unsigned char *d;
				uint64_t c = cf.cap ? 2 * cf.cap : 4096;

				if ((d = realloc(cf.done, c)) == NULL) {
					fprintf(stderr, "mqtool: out of memory\n");
					return 1;
				}
				memset(d + cf.cap, 0, c - cf.cap);
				cf.done = d;
				cf.cap = c;
			}
			if (mq_send(m, "", queue, body, strlen(body), "mqtool",
			    1, &tag) != 0) {
				fprintf(stderr, "mqtool: %s\n", m->errstr);
				return 1;
			}
			cf.sent = tag;
			ret = confirms_read(m);
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
		if (mq_connect(&m, 1) != 0) {
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
		if (ret == 0 && queue != NULL)
			ret = confirms_wait(&m);
		free(cf.done);
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
