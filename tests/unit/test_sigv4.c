/* SPDX-License-Identifier: ISC */
/*
 * test_sigv4.c - unit tests of the SigV4 set-up of shared/ddb.c, seen on the
 * wire by a listener socket (the consumer's PutItem as the request), and
 * of the signing parameter and its errors.
 */
#define _GNU_SOURCE	/* strcasestr */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sys/socket.h>

#include <cmocka.h>

#include "conf.h"
#include "ddb.h"
#include "ddb_item.h"
#include "ticket.h"
#include "unit.h"

/* A one-shot HTTP server: accepts one connection, keeps the request,
 * answers with a fixed response. */
struct listener {
	int		 fd;
	int		 port;
	const char	*answer;
	char		 req[16384];
	size_t		 len;
};

static void *
listener_run(void *arg)
{
	struct listener	*l = arg;
	const char	*hend, *cl;
	ssize_t		 n;
	size_t		 want = 0;
	int		 c;

	if ((c = accept(l->fd, NULL, NULL)) < 0)
		return NULL;
	for (;;) {
		n = read(c, l->req + l->len, sizeof(l->req) - 1 - l->len);
		if (n <= 0)
			break;
		l->len += (size_t)n;
		l->req[l->len] = '\0';
		if ((hend = strstr(l->req, "\r\n\r\n")) == NULL)
			continue;
		if (want == 0) {
			cl = strcasestr(l->req, "\r\nContent-Length:");
			want = (size_t)(hend + 4 - l->req) +
			    (cl != NULL ? strtoul(cl + 17, NULL, 10) : 0);
		}
		if (l->len >= want)
			break;
	}
	(void)!write(c, l->answer, strlen(l->answer));
	close(c);
	return NULL;
}

static void
listener_start(struct listener *l, pthread_t *tid, const char *answer)
{
	struct sockaddr_in	sa;
	socklen_t		slen = sizeof(sa);

	memset(l, 0, sizeof(*l));
	l->answer = answer;
	assert_true((l->fd = socket(AF_INET, SOCK_STREAM, 0)) >= 0);
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(l->fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(l->fd, 1), 0);
	assert_int_equal(getsockname(l->fd, (struct sockaddr *)&sa, &slen), 0);
	l->port = ntohs(sa.sin_port);
	assert_int_equal(pthread_create(tid, NULL, listener_run, l), 0);
}

/* The value of header name (case-insensitive) in the captured request. */
static void
header(const struct listener *l, const char *name, char *out, size_t size)
{
	char		 key[64];
	const char	*p, *e;

	out[0] = '\0';
	snprintf(key, sizeof(key), "\r\n%s: ", name);
	if ((p = strcasestr(l->req, key)) == NULL)
		return;
	p += strlen(key);
	if ((e = strstr(p, "\r\n")) == NULL || (size_t)(e - p) >= size)
		return;
	memcpy(out, p, (size_t)(e - p));
	out[e - p] = '\0';
}

static void
sigv4_conf(struct conf *c, int port, const char *token)
{
	char err[256];

	assert_int_equal(conf_load(c, NULL, 0, err, sizeof(err)), 0);
	snprintf(c->dynamodb_endpoint, sizeof(c->dynamodb_endpoint),
	    "http://127.0.0.1:%d/", port);
	snprintf(c->dynamodb_region, sizeof(c->dynamodb_region), "eu-west-3");
	snprintf(c->aws_access_key_id, sizeof(c->aws_access_key_id),
	    "AKIDEXAMPLE");
	snprintf(c->aws_secret_access_key, sizeof(c->aws_secret_access_key),
	    "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY");
	snprintf(c->aws_session_token, sizeof(c->aws_session_token), "%s",
	    token);
}

/* The endpoint policy: a session token never travels over plain http to
 * another host; only http and https. */
static void
test_ddb_endpoint_policy(void **state)
{
	static const char *const ok_token[] = {
		"https://dynamodb.eu-west-3.amazonaws.com",
		"HTTPS://dynamodb.eu-west-3.amazonaws.com/",
		"http://127.0.0.1:8000", "http://127.0.0.1:8000/",
		"http://127.9.8.7", "http://localhost:8000",
		"http://[::1]:8000/",
	};
	static const char *const bad_token[] = {
		"http://dynamodb.eu-west-3.amazonaws.com",
		"http://10.0.0.7:8000", "http://127.0.0.1.example.com/",
		"http://127.0.0.1@example.com/", "http://localhost.example.com",
		"http://[2001:db8::1]:8000",
	};
	static const char *const bad_scheme[] = {
		"ftp://127.0.0.1/", "file:///etc/passwd", "127.0.0.1:8000", "",
	};
	struct conf	c;
	struct ddb	d;
	char		err[256];
	size_t		i;

	(void)state;
	for (i = 0; i < sizeof(ok_token) / sizeof(ok_token[0]); i++) {
		assert_int_equal(ddb_endpoint_check(ok_token[i], 1, err,
		    sizeof(err)), 0);
		assert_int_equal(ddb_endpoint_check(ok_token[i], 0, err,
		    sizeof(err)), 0);
	}
	for (i = 0; i < sizeof(bad_token) / sizeof(bad_token[0]); i++) {
		assert_int_equal(ddb_endpoint_check(bad_token[i], 1, err,
		    sizeof(err)), -1);
		assert_non_null(strstr(err, "aws_session_token"));
		/* no token: the request is signed, no secret on the wire */
		assert_int_equal(ddb_endpoint_check(bad_token[i], 0, err,
		    sizeof(err)), 0);
	}
	for (i = 0; i < sizeof(bad_scheme) / sizeof(bad_scheme[0]); i++)
		assert_int_equal(ddb_endpoint_check(bad_scheme[i], 0, err,
		    sizeof(err)), -1);

	/* start-up refuses it: ddb_init is what every program calls */
	sigv4_conf(&c, 8000, "FQoGZXIvYXdzEXAMPLETOKEN");
	snprintf(c.dynamodb_endpoint, sizeof(c.dynamodb_endpoint),
	    "http://dynamodb.example.com:8000");
	assert_int_equal(ddb_init(&d, &c), -1);
	assert_non_null(strstr(d.errstr, "aws_session_token"));
	ddb_free(&d);
	snprintf(c.dynamodb_endpoint, sizeof(c.dynamodb_endpoint),
	    "https://dynamodb.example.com");
	assert_int_equal(ddb_init(&d, &c), 0);
	ddb_free(&d);
}

/* Sends one PutItem to a listener and checks the signed request. */
static void
check_signed_put(const char *token)
{
	static const char answer[] = "HTTP/1.1 200 OK\r\nContent-Type: "
	    "application/x-amz-json-1.0\r\nContent-Length: 2\r\n"
	    "Connection: close\r\n\r\n{}";
	struct listener	 l;
	struct conf	 c;
	struct ddb	 d;
	struct ddb_resp	 r;
	struct ticket	 t;
	pthread_t	 tid;
	char		 json[DDB_PUT_MAX], auth[512], date[64], want[512];
	char		 v[256];
	const char	*body;

	listener_start(&l, &tid, answer);
	sigv4_conf(&c, l.port, token);
	assert_int_equal(ddb_init(&d, &c), 0);
	unit_sample(&t, T_ID);
	assert_true(ddb_put_json("Tickets", &t, json, sizeof(json)) > 0);
	assert_int_equal(ddb_call(&d, "PutItem", json, &r), 0);
	assert_int_equal(r.status, 200);
	assert_string_equal(r.body, "{}");
	ddb_resp_free(&r);
	ddb_free(&d);
	pthread_join(tid, NULL);
	close(l.fd);

	assert_int_equal(strncmp(l.req, "POST / HTTP/1.1\r\n", 17), 0);
	header(&l, "X-Amz-Target", v, sizeof(v));
	assert_string_equal(v, "DynamoDB_20120810.PutItem");
	header(&l, "Content-Type", v, sizeof(v));
	assert_string_equal(v, "application/x-amz-json-1.0");
	header(&l, "Host", v, sizeof(v));
	snprintf(want, sizeof(want), "127.0.0.1:%d", l.port);
	assert_string_equal(v, want);
	/* X-Amz-Date: yyyymmddThhmmssZ, today (UTC) */
	header(&l, "X-Amz-Date", date, sizeof(date));
	assert_int_equal(strlen(date), 16);
	assert_int_equal(date[8], 'T');
	assert_int_equal(date[15], 'Z');
	/* the scope: key / date / region / service / aws4_request */
	header(&l, "Authorization", auth, sizeof(auth));
	snprintf(want, sizeof(want), "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/"
	    "%.8s/eu-west-3/dynamodb/aws4_request, SignedHeaders=%s, "
	    "Signature=", date, token[0] ?
	    "content-type;host;x-amz-date;x-amz-security-token;x-amz-target" :
	    "content-type;host;x-amz-date;x-amz-target");
	if (strncmp(auth, want, strlen(want)) != 0)
		print_error("Authorization: %s\nwanted: %s...\n", auth, want);
	assert_int_equal(strncmp(auth, want, strlen(want)), 0);
	assert_int_equal(strlen(auth + strlen(want)), 64);
	assert_int_equal(strspn(auth + strlen(want), "0123456789abcdef"), 64);
	/* a header that is signed must be sent, and no 100-continue */
	assert_null(strcasestr(l.req, "\r\nExpect:"));
	header(&l, "X-Amz-Security-Token", v, sizeof(v));
	assert_string_equal(v, token);
	/* the body is the PutItem, unchanged */
	assert_non_null(body = strstr(l.req, "\r\n\r\n"));
	assert_string_equal(body + 4, json);
}

static void
test_sigv4_scope(void **state)
{
	(void)state;
	check_signed_put("");
	check_signed_put("FQoGZXIvYXdzEXAMPLETOKEN");
}

static void
test_sigv4_param_and_errors(void **state)
{
	static const char err[] = "{\"__type\":\"com.amazonaws.dynamodb."
	    "v20120810#ConditionalCheckFailedException\",\"message\":\"The "
	    "conditional request failed\"}";
	char		 answer[512];
	struct listener	 l;
	struct conf	 c;
	struct ddb	 d;
	struct ddb_resp	 r;
	pthread_t	 tid;
	char		 buf[64];

	(void)state;
	assert_int_equal(ddb_sigv4_param("eu-west-3", buf, sizeof(buf)), 0);
	assert_string_equal(buf, "aws:amz:eu-west-3:dynamodb");
	assert_int_equal(ddb_sigv4_param("eu-west-3", buf, 20), -1);

	snprintf(answer, sizeof(answer), "HTTP/1.1 400 Bad Request\r\n"
	    "Content-Type: application/x-amz-json-1.0\r\nContent-Length: %zu"
	    "\r\nConnection: close\r\n\r\n%s", strlen(err), err);
	listener_start(&l, &tid, answer);
	sigv4_conf(&c, l.port, "");
	assert_int_equal(ddb_init(&d, &c), 0);
	assert_int_equal(ddb_call(&d, "PutItem", "{}", &r), 0);
	assert_int_equal(r.status, 400);
	assert_string_equal(r.type, "ConditionalCheckFailedException");
	assert_string_equal(r.message, "The conditional request failed");
	assert_int_equal(ddb_retryable(r.status, r.type), 0);
	ddb_resp_free(&r);
	ddb_free(&d);
	pthread_join(tid, NULL);
	close(l.fd);

	/* what the sink retries and what it does not */
	assert_int_equal(ddb_retryable(0, ""), 1);
	assert_int_equal(ddb_retryable(500, "InternalServerError"), 1);
	assert_int_equal(ddb_retryable(503, ""), 1);
	assert_int_equal(ddb_retryable(400, "ThrottlingException"), 1);
	assert_int_equal(ddb_retryable(400,
	    "ProvisionedThroughputExceededException"), 1);
	assert_int_equal(ddb_retryable(400, "ValidationException"), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sigv4_scope),
		cmocka_unit_test(test_sigv4_param_and_errors),
		cmocka_unit_test(test_ddb_endpoint_policy),
	};

	return cmocka_run_group_tests_name("sigv4", tests, NULL, NULL);
}
