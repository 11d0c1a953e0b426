/* SPDX-License-Identifier: ISC */
/*
 * test_pubc.c - unit tests of shared/pubc.c, a responder's side of pubd,
 * against a scripted peer on a real unix socket (a child process that
 * plays pubd's part of the frames, shared/pubframe.c): a message handed
 * over and answered; a kept socket whose pubd went away after the idle
 * check, before the write (pubd stopping, restarted), is replaced and the
 * message handed to the pubd listening now, not refused; a peer that
 * takes nothing is MQ_FAILED, one that takes the frame and goes away is
 * MQ_UNKNOWN; one that closes the socket with the frame unread in it
 * (pubd stopping, after its idle check) published nothing: the message
 * goes to the pubd listening now, or is MQ_FAILED.
 */
#include <sys/socket.h>
#include <poll.h>
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

#include "mq.h"
#include "pubc.h"
#include "pubframe.h"
#include "unit.h"

static const char body[] = "{\"orderId\":\"" T_ID "\"}";

struct peer {
	char	dir[64];
	char	path[108];
	int	lfd;		/* the listening socket */
	pid_t	pid;		/* the scripted pubd */
	int	sync[2];	/* the child writes a byte after each step */
};

static void
peer_listen(struct peer *p)
{
	struct sockaddr_un sun;

	snprintf(p->dir, sizeof(p->dir), "/tmp/test_pubc.XXXXXX");
	assert_non_null(mkdtemp(p->dir));
	snprintf(p->path, sizeof(p->path), "%s/pubd.sock", p->dir);
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", p->path);
	assert_true((p->lfd = socket(AF_UNIX, SOCK_STREAM, 0)) >= 0);
	assert_int_equal(bind(p->lfd, (struct sockaddr *)&sun, sizeof(sun)),
	    0);
	assert_int_equal(listen(p->lfd, 8), 0);
	assert_int_equal(pipe(p->sync), 0);
}

static void
peer_done(struct peer *p)
{
	int st;

	assert_int_equal(waitpid(p->pid, &st, 0), p->pid);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	close(p->lfd);
	close(p->sync[0]);
	unlink(p->path);
	rmdir(p->dir);
}

/* In the child: reads one whole request frame from fd; 0 or -1. */
static int
read_frame(int fd, struct pubframe_req *r)
{
	static uint8_t	 buf[PUBFRAME_REQ_MAX + 4096];
	const char	*why;
	size_t		 have = 0;
	ssize_t		 n;
	long		 k;

	for (;;) {
		if ((k = pubframe_req_parse(buf, have, r, &why)) > 0)
			return 0;
		if (k != PUBFRAME_MORE || have == sizeof(buf) ||
		    (n = read(fd, buf + have, sizeof(buf) - have)) <= 0)
			return -1;
		have += (size_t)n;
	}
}

/* In the child: accepts one connection, reads a frame, answers it OK. */
static int
serve_one(int lfd)
{
	uint8_t			ans[PUBFRAME_ANS_MAX];
	struct pubframe_req	r;
	long			n;
	int			fd;

	if ((fd = accept(lfd, NULL, NULL)) < 0 || read_frame(fd, &r) != 0 ||
	    (n = pubframe_ans_encode(ans, sizeof(ans), MQ_OK, r.id, "")) < 0 ||
	    write(fd, ans, (size_t)n) != n)
		return -1;
	return fd;
}

/* Hands body over as message id with a 2 s timeout. */
static enum mq_result
publish(struct pubc *c, const char *id)
{
	return pubc_publish(c, MQ_EXCHANGE, MQ_ROUTING_KEY, body, strlen(body),
	    id, 2000);
}

static void
sync_wait(struct peer *p)
{
	char c;

	assert_int_equal(read(p->sync[0], &c, 1), 1);
}

/* The pubd that stops between a responder's idle check and its write:
 * its end of the kept socket takes nothing more (shutdown for reading:
 * the responder's poll sees nothing readable, its send fails EPIPE).
 * The message must go to the pubd listening now (same path), not be
 * refused with a 503 "nothing sold" that a fresh socket would have
 * avoided.  (Before: MQ_FAILED.) */
static void
test_a_socket_closed_after_the_check_is_replaced(void **state)
{
	struct peer	p;
	struct pubc	c;
	int		fd, fd2;

	(void)state;
	peer_listen(&p);
	if ((p.pid = fork()) == 0) {
		alarm(10);	/* a parent that failed waits for nothing */
		close(p.sync[0]);
		if ((fd = serve_one(p.lfd)) < 0 ||
		    shutdown(fd, SHUT_RD) != 0 || write(p.sync[1], "x", 1) != 1)
			_exit(1);
		/* the new pubd takes the message again */
		if ((fd2 = serve_one(p.lfd)) < 0)
			_exit(2);
		close(fd2);
		close(fd);
		_exit(0);
	}
	close(p.sync[1]);
	pubc_init(&c, p.path);
	assert_int_equal(publish(&c, T_ID), MQ_OK);
	sync_wait(&p);
	assert_int_equal(pubc_check(&c), 0);	/* kept: nothing readable */
	assert_int_equal(publish(&c, T_ID2), MQ_OK);
	pubc_close(&c);
	peer_done(&p);
}

/* In the child: accepts one connection (or takes fd >= 0), waits until a
 * frame is in it and closes it unread, as pubd's close_idle() may after
 * its idle check.  Returns 0 or -1. */
static int
close_unread(int lfd, int fd)
{
	struct pollfd pfd;

	if (fd < 0 && (fd = accept(lfd, NULL, NULL)) < 0)
		return -1;
	pfd.fd = fd;
	pfd.events = POLLIN;
	if (poll(&pfd, 1, 5000) != 1)
		return -1;
	return close(fd);
}

/* The pubd that closes a kept socket with the next message unread in it
 * (stopping: its idle check came just before the write): the kernel says
 * ECONNRESET, not EOF, so the frame was never read whole and nothing was
 * published; the message goes to the pubd listening now.  (Before:
 * MQ_UNKNOWN, a 503 with the order left to the sweeper.) */
static void
test_closed_with_the_frame_unread_is_sent_again(void **state)
{
	struct peer	p;
	struct pubc	c;
	int		fd;

	(void)state;
	peer_listen(&p);
	if ((p.pid = fork()) == 0) {
		alarm(10);
		close(p.sync[0]);
		if ((fd = serve_one(p.lfd)) < 0 ||
		    write(p.sync[1], "x", 1) != 1 ||
		    close_unread(p.lfd, fd) != 0)
			_exit(1);
		if ((fd = serve_one(p.lfd)) < 0)
			_exit(2);
		close(fd);
		_exit(0);
	}
	close(p.sync[1]);
	pubc_init(&c, p.path);
	assert_int_equal(publish(&c, T_ID), MQ_OK);
	sync_wait(&p);
	assert_int_equal(publish(&c, T_ID2), MQ_OK);
	pubc_close(&c);
	peer_done(&p);
}

/* Closed unread on the new socket too: nothing was sent, MQ_FAILED (the
 * seats are released), not MQ_UNKNOWN. */
static void
test_closed_unread_twice_is_failed(void **state)
{
	struct peer	p;
	struct pubc	c;

	(void)state;
	peer_listen(&p);
	if ((p.pid = fork()) == 0) {
		alarm(10);
		if (close_unread(p.lfd, -1) != 0 ||
		    close_unread(p.lfd, -1) != 0)
			_exit(1);
		_exit(0);
	}
	close(p.sync[1]);
	pubc_init(&c, p.path);
	assert_int_equal(publish(&c, T_ID), MQ_FAILED);
	assert_non_null(strstr(c.errstr, "unread"));
	assert_int_equal(c.fd, -1);
	peer_done(&p);
}

/* Nothing listening: refused before anything left, MQ_FAILED. */
static void
test_no_pubd_is_failed(void **state)
{
	struct peer	p;
	struct pubc	c;

	(void)state;
	peer_listen(&p);
	close(p.lfd);
	p.lfd = -1;
	unlink(p.path);
	pubc_init(&c, p.path);
	assert_int_equal(pubc_publish(&c, MQ_EXCHANGE, MQ_ROUTING_KEY, body,
	    strlen(body), T_ID, 500), MQ_FAILED);
	assert_non_null(strstr(c.errstr, "connect"));
	close(p.sync[0]);
	close(p.sync[1]);
	rmdir(p.dir);
}

/* A pubd that read the whole frame and went away without an answer may
 * have published it: MQ_UNKNOWN, and the socket is not kept. */
static void
test_gone_after_the_frame_is_unknown(void **state)
{
	struct peer		p;
	struct pubc		c;
	struct pubframe_req	r;
	int			fd;

	(void)state;
	peer_listen(&p);
	if ((p.pid = fork()) == 0) {
		alarm(10);
		if ((fd = accept(p.lfd, NULL, NULL)) < 0 ||
		    read_frame(fd, &r) != 0)
			_exit(1);
		close(fd);
		_exit(0);
	}
	close(p.sync[1]);
	pubc_init(&c, p.path);
	assert_int_equal(publish(&c, T_ID), MQ_UNKNOWN);
	assert_int_equal(c.fd, -1);
	peer_done(&p);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_a_socket_closed_after_the_check_is_replaced),
		cmocka_unit_test(test_closed_with_the_frame_unread_is_sent_again),
		cmocka_unit_test(test_closed_unread_twice_is_failed),
		cmocka_unit_test(test_no_pubd_is_failed),
		cmocka_unit_test(test_gone_after_the_frame_is_unknown),
	};

	return cmocka_run_group_tests_name("pubc", tests, NULL, NULL);
}
