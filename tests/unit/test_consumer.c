/*
 * test_consumer.c - unit tests of what the consumer is built on:
 * shared/ddb_item.c (DynamoDB item, conditional PutItem, BatchWriteItem,
 * UnprocessedItems), the SigV4 set-up of shared/ddb.c seen on the wire by a
 * listener socket, shared/backoff.c (full-jitter bounds), shared/tsql.c
 * (multi-row INSERT, look-up, verdicts) and the message cases the consumer
 * dead-letters.
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
#include <json-c/json.h>

#include "backoff.h"
#include "conf.h"
#include "ddb.h"
#include "ddb_item.h"
#include "ticket.h"
#include "tsql.h"

#define T_ID	"019b6f7c-93fb-7a2e-9c41-0123456789ab"
#define T_ID2	"019b6f7c-93fb-7a2e-9c41-0123456789ac"
#define T_ITEM	"{\"ticketId\":{\"S\":\"" T_ID "\"}," \
		"\"venueId\":{\"S\":\"Venue1\"},\"eventId\":{\"S\":\"Event1\"}," \
		"\"zoneId\":{\"N\":\"12\"},\"row\":{\"N\":\"3\"}," \
		"\"column\":{\"N\":\"30\"},\"price\":{\"N\":\"320.00\"}," \
		"\"status\":{\"S\":\"CREATED\"}," \
		"\"createdOn\":{\"S\":\"2026-11-27T23:54:24.123Z\"}}"

static void
sample(struct ticket *t, const char *id)
{
	memset(t, 0, sizeof(*t));
	snprintf(t->id, sizeof(t->id), "%s", id);
	snprintf(t->venue, sizeof(t->venue), "Venue1");
	snprintf(t->event, sizeof(t->event), "Event1");
	t->zone = 12;
	t->row = 3;
	t->col = 30;
	snprintf(t->price, sizeof(t->price), "320.00");
	snprintf(t->created, sizeof(t->created), "2026-11-27T23:54:24.123Z");
}

/* Looks up a dotted path of object keys in o. */
static struct json_object *
jpath(struct json_object *o, const char *a, const char *b, const char *c)
{
	struct json_object *v = o;

	if (a != NULL && !json_object_object_get_ex(v, a, &v))
		return NULL;
	if (b != NULL && !json_object_object_get_ex(v, b, &v))
		return NULL;
	if (c != NULL && !json_object_object_get_ex(v, c, &v))
		return NULL;
	return v;
}

/* ------------------------------------------------------------ ddb_item */

static void
test_item_json(void **state)
{
	struct ticket	t;
	char		buf[DDB_ITEM_MAX];
	int		n;

	(void)state;
	sample(&t, T_ID);
	n = ddb_item_json(&t, buf, sizeof(buf));
	assert_string_equal(buf, T_ITEM);
	assert_int_equal(n, (int)strlen(T_ITEM));
	/* every size short of the whole text fails, the exact size works */
	assert_int_equal(ddb_item_json(&t, buf, strlen(T_ITEM)), -1);
	assert_int_equal(ddb_item_json(&t, buf, strlen(T_ITEM) + 1), n);
	/* the writer's own guard: nothing that would need escaping */
	snprintf(t.venue, sizeof(t.venue), "Ven\"ue");
	assert_int_equal(ddb_item_json(&t, buf, sizeof(buf)), -1);
	sample(&t, T_ID);
	snprintf(t.price, sizeof(t.price), "320");
	assert_int_equal(ddb_item_json(&t, buf, sizeof(buf)), -1);
	sample(&t, "019B6F7C-93FB-7A2E-9C41-0123456789AB");
	assert_int_equal(ddb_item_json(&t, buf, sizeof(buf)), -1);
}

static void
test_put_json(void **state)
{
	static const char want[] = "{\"TableName\":\"Tickets\",\"Item\":"
	    T_ITEM ",\"ConditionExpression\":"
	    "\"attribute_not_exists(ticketId)\"}";
	struct json_object	*o;
	struct ticket		 t;
	char			 buf[DDB_PUT_MAX];
	int			 n;

	(void)state;
	sample(&t, T_ID);
	n = ddb_put_json("Tickets", &t, buf, sizeof(buf));
	assert_int_equal(n, (int)strlen(want));
	assert_string_equal(buf, want);
	/* and it is JSON with the fields where DynamoDB looks for them */
	assert_non_null(o = json_tokener_parse(buf));
	assert_string_equal(json_object_get_string(jpath(o,
	    "ConditionExpression", NULL, NULL)), DDB_CONDITION);
	assert_string_equal(json_object_get_string(jpath(o, "Item", "price",
	    "N")), "320.00");
	assert_string_equal(json_object_get_string(jpath(o, "Item", "zoneId",
	    "N")), "12");
	assert_string_equal(json_object_get_string(jpath(o, "Item",
	    "ticketId", "S")), T_ID);
	assert_null(jpath(o, "Item", "price", "S"));
	json_object_put(o);
	assert_int_equal(ddb_put_json("Tickets", &t, buf, strlen(want)), -1);
	assert_int_equal(ddb_put_json("Tickets", &t, buf, strlen(want) + 1),
	    n);
	assert_int_equal(ddb_put_json("Ti\"x", &t, buf, sizeof(buf)), -1);
}

static void
test_batch_json(void **state)
{
	struct ticket		 t[DDB_BATCH_MAX + 1];
	const struct ticket	*tv[DDB_BATCH_MAX + 1];
	struct json_object	*o, *list, *e;
	char			 id[UUID_LEN + 1], *buf;
	size_t			 i;
	int			 n;

	(void)state;
	for (i = 0; i <= DDB_BATCH_MAX; i++) {
		snprintf(id, sizeof(id), "019b6f7c-93fb-7a2e-9c41-0123456789%02zx",
		    i);
		sample(&t[i], id);
		t[i].col = (long)i + 1;
		tv[i] = &t[i];
	}
	assert_non_null(buf = malloc(DDB_BATCH_JSON_MAX));
	n = ddb_batch_json("Tickets", tv, DDB_BATCH_MAX, buf,
	    DDB_BATCH_JSON_MAX);
	assert_true(n > 0);
	assert_non_null(o = json_tokener_parse(buf));
	assert_non_null(list = jpath(o, "RequestItems", "Tickets", NULL));
	assert_int_equal(json_object_array_length(list), DDB_BATCH_MAX);
	for (i = 0; i < DDB_BATCH_MAX; i++) {
		struct json_object *id_attr, *col_attr;

		e = json_object_array_get_idx(list, i);
		assert_non_null(id_attr = jpath(e, "PutRequest", "Item",
		    "ticketId"));
		assert_non_null(col_attr = jpath(e, "PutRequest", "Item",
		    "column"));
		assert_string_equal(json_object_get_string(jpath(id_attr, "S",
		    NULL, NULL)), t[i].id);
		snprintf(id, sizeof(id), "%zu", i + 1);
		assert_string_equal(json_object_get_string(jpath(col_attr, "N",
		    NULL, NULL)), id);
	}
	json_object_put(o);
	/* one item: exactly the item inside the envelope */
	n = ddb_batch_json("Tickets", tv, 1, buf, DDB_BATCH_JSON_MAX);
	assert_true(n > 0);
	{
		static const char head[] = "{\"RequestItems\":{\"Tickets\":[{"
		    "\"PutRequest\":{\"Item\":";

		assert_int_equal(strncmp(buf, head, strlen(head)), 0);
		char item[DDB_ITEM_MAX];

		assert_true(ddb_item_json(&t[0], item, sizeof(item)) > 0);
		assert_int_equal(strncmp(buf + strlen(head), item,
		    strlen(item)), 0);
		assert_int_equal(n, (int)(strlen(head) + strlen(item) + 5));
		assert_string_equal(buf + n - 5, "}}]}}");
	}
	assert_int_equal(ddb_batch_json("Tickets", tv, 0, buf,
	    DDB_BATCH_JSON_MAX), -1);
	assert_int_equal(ddb_batch_json("Tickets", tv, DDB_BATCH_MAX + 1, buf,
	    DDB_BATCH_JSON_MAX), -1);
	assert_int_equal(ddb_batch_json("Tickets", tv, 2, buf, 100), -1);
	free(buf);
}

static void
test_unprocessed(void **state)
{
	char	ids[4][UUID_LEN + 1];
	char	body[1024];

	(void)state;
	assert_int_equal(ddb_unprocessed("{\"UnprocessedItems\":{}}",
	    "Tickets", ids, 4), 0);
	assert_int_equal(ddb_unprocessed("{}", "Tickets", ids, 4), 0);
	snprintf(body, sizeof(body), "{\"UnprocessedItems\":{\"Tickets\":["
	    "{\"PutRequest\":{\"Item\":{\"ticketId\":{\"S\":\"%s\"},"
	    "\"row\":{\"N\":\"1\"}}}},{\"PutRequest\":{\"Item\":{\"ticketId\":"
	    "{\"S\":\"%s\"}}}}]}}", T_ID, T_ID2);
	memset(ids, 0, sizeof(ids));
	assert_int_equal(ddb_unprocessed(body, "Tickets", ids, 4), 2);
	assert_string_equal(ids[0], T_ID);
	assert_string_equal(ids[1], T_ID2);
	/* more than max: counted, only max written */
	memset(ids, 0, sizeof(ids));
	assert_int_equal(ddb_unprocessed(body, "Tickets", ids, 1), 2);
	assert_string_equal(ids[0], T_ID);
	assert_string_equal(ids[1], "");
	/* another table's leftovers are not ours */
	assert_int_equal(ddb_unprocessed(body, "Other", ids, 4), 0);
	assert_int_equal(ddb_unprocessed("not json", "Tickets", ids, 4), -1);
	assert_int_equal(ddb_unprocessed("[1]", "Tickets", ids, 4), -1);
	assert_int_equal(ddb_unprocessed(NULL, "Tickets", ids, 4), -1);
	assert_int_equal(ddb_unprocessed("{\"UnprocessedItems\":{\"Tickets\":"
	    "[{\"PutRequest\":{\"Item\":{\"ticketId\":{\"S\":\"x\"}}}}]}}",
	    "Tickets", ids, 4), -1);
}

static void
test_table_ok(void **state)
{
	char long_name[300];

	(void)state;
	assert_int_equal(ddb_table_ok("Tickets"), 1);
	assert_int_equal(ddb_table_ok("a.b-c_9"), 1);
	assert_int_equal(ddb_table_ok("ab"), 0);
	assert_int_equal(ddb_table_ok("Tick ets"), 0);
	assert_int_equal(ddb_table_ok("Tick\"ets"), 0);
	assert_int_equal(ddb_table_ok(""), 0);
	memset(long_name, 'a', sizeof(long_name));
	long_name[255] = '\0';
	assert_int_equal(ddb_table_ok(long_name), 1);
	long_name[255] = 'a';
	long_name[256] = '\0';
	assert_int_equal(ddb_table_ok(long_name), 0);
}

/* ------------------------------------------------ SigV4 on the wire */

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
	sample(&t, T_ID);
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

/* ------------------------------------------------------------- backoff */

static void
test_backoff_ceiling(void **state)
{
	static const long want[] = { 50, 100, 200, 400, 800, 1600, 3200,
	    5000, 5000 };
	unsigned i;

	(void)state;
	for (i = 0; i < sizeof(want) / sizeof(want[0]); i++)
		assert_int_equal(backoff_ceiling(i, 50, 5000), want[i]);
	assert_int_equal(backoff_ceiling(1000, 50, 5000), 5000);
	assert_int_equal(backoff_ceiling(4000000000u, 50, 600000), 600000);
	assert_int_equal(backoff_ceiling(63, 1, 0x7fffffffL), 0x7fffffffL);
	assert_int_equal(backoff_ceiling(0, 50, 10), 10);	/* cap < base */
	assert_int_equal(backoff_ceiling(3, 0, 10), 8);	/* base 0 -> 1 */
	assert_int_equal(backoff_ceiling(3, 50, 0), 1);
}

static void
test_backoff_full_jitter(void **state)
{
	unsigned	 a;
	long		 ms, c, max;
	double		 sum;
	int		 i, zero_seen;

	(void)state;
	for (a = 0; a < 20; a++) {
		c = backoff_ceiling(a, 50, 5000);
		/* the whole range [0, ceiling] is reachable, nothing beyond */
		assert_int_equal(backoff_ms(a, 50, 5000, 0), 0);
		assert_int_equal(backoff_ms(a, 50, 5000, (uint64_t)c), c);
		assert_int_equal(backoff_ms(a, 50, 5000, (uint64_t)c + 1), 0);
		assert_true(backoff_ms(a, 50, 5000, UINT64_MAX) <= c);
		sum = 0;
		max = 0;
		zero_seen = 0;
		for (i = 0; i < 20000; i++) {
			ms = backoff_ms(a, 50, 5000, backoff_rand());
			assert_true(ms >= 0 && ms <= c);
			sum += (double)ms;
			if (ms > max)
				max = ms;
			if (ms * 20 < c)
				zero_seen = 1;
		}
		/* uniform over [0, c]: mean near c/2, both ends visited */
		assert_true(sum / 20000 > c * 0.45 && sum / 20000 < c * 0.55);
		assert_true(max * 20 >= c * 19);
		assert_true(zero_seen);
	}
}

/* ---------------------------------------------------------------- tsql */

static void
test_tsql_insert(void **state)
{
	static const char want[] = "INSERT INTO ticket (ticket_id, venue_id, "
	    "event_id, zone_id, row_no, col_no, price, status, created_on) "
	    "VALUES ('" T_ID "','Venue1','Event1',12,3,30,320.00,'CREATED',"
	    "'2026-11-27 23:54:24.123'),('" T_ID2 "','Venue1','Event1',12,3,"
	    "29,320.00,'CREATED','2026-11-27 23:54:24.123')";
	struct ticket		 t[2];
	const struct ticket	*tv[2] = { &t[0], &t[1] };
	char			 buf[TSQL_SIZE(2)];

	(void)state;
	sample(&t[0], T_ID);
	sample(&t[1], T_ID2);
	t[1].col = 29;
	assert_int_equal(tsql_insert(tv, 2, buf, sizeof(buf)),
	    (int)strlen(want));
	assert_string_equal(buf, want);
	assert_int_equal(tsql_insert(tv, 2, buf, strlen(want)), -1);
	assert_int_equal(tsql_insert(tv, 2, buf, strlen(want) + 1),
	    (int)strlen(want));
	assert_int_equal(tsql_insert(tv, 0, buf, sizeof(buf)), -1);
	/* nothing that could change the statement gets in */
	snprintf(t[1].venue, sizeof(t[1].venue), "V'); DROP TABLE ticket;--");
	assert_int_equal(tsql_insert(tv, 2, buf, sizeof(buf)), -1);
	sample(&t[1], T_ID2);
	snprintf(t[1].created, sizeof(t[1].created), "2026-11-27 23:54:24.123");
	assert_int_equal(tsql_insert(tv, 2, buf, sizeof(buf)), -1);
	sample(&t[1], T_ID2);
	snprintf(t[1].price, sizeof(t[1].price), "1e3");
	assert_int_equal(tsql_insert(tv, 2, buf, sizeof(buf)), -1);
}

static void
test_tsql_lookup(void **state)
{
	static const char want[] = "SELECT ticket_id, event_id, zone_id, "
	    "row_no, col_no FROM ticket WHERE ticket_id IN ('" T_ID "','"
	    T_ID2 "') UNION SELECT ticket_id, event_id, zone_id, row_no, "
	    "col_no FROM ticket WHERE (event_id, zone_id, row_no, col_no) IN "
	    "(('Event1',12,3,30),('Event2',1,1,2))";
	struct ticket		 t[2];
	const struct ticket	*tv[2] = { &t[0], &t[1] };
	char			 buf[TSQL_SIZE(2)];

	(void)state;
	sample(&t[0], T_ID);
	sample(&t[1], T_ID2);
	snprintf(t[1].event, sizeof(t[1].event), "Event2");
	t[1].zone = 1;
	t[1].row = 1;
	t[1].col = 2;
	assert_int_equal(tsql_lookup(tv, 2, buf, sizeof(buf)),
	    (int)strlen(want));
	assert_string_equal(buf, want);
	assert_int_equal(tsql_lookup(tv, 2, buf, strlen(want)), -1);
}

static void
test_tsql_sizes(void **state)
{
	struct ticket		*t;
	const struct ticket	**tv;
	char			*buf;
	size_t			 i;

	(void)state;
	/* the longest tickets, a full batch: TSQL_SIZE() is enough */
	assert_non_null(t = calloc(TSQL_BATCH_MAX, sizeof(*t)));
	assert_non_null(tv = calloc(TSQL_BATCH_MAX, sizeof(*tv)));
	assert_non_null(buf = malloc(TSQL_SIZE(TSQL_BATCH_MAX)));
	for (i = 0; i < TSQL_BATCH_MAX; i++) {
		sample(&t[i], T_ID);
		memset(t[i].venue, 'v', ID_MAX);
		memset(t[i].event, 'e', ID_MAX);
		t[i].zone = t[i].row = t[i].col = 2147483647L;
		snprintf(t[i].price, sizeof(t[i].price), "99999999.99");
		tv[i] = &t[i];
	}
	assert_true(tsql_insert(tv, TSQL_BATCH_MAX, buf,
	    TSQL_SIZE(TSQL_BATCH_MAX)) > 0);
	assert_true(tsql_lookup(tv, TSQL_BATCH_MAX, buf,
	    TSQL_SIZE(TSQL_BATCH_MAX)) > 0);
	assert_int_equal(tsql_insert(tv, TSQL_BATCH_MAX + 1, buf,
	    TSQL_SIZE(TSQL_BATCH_MAX + 1)), -1);
	free(buf);
	free(tv);
	free(t);
}

/* tsql_row_parse() of five text columns (NULL allowed), as MYSQL_ROW. */
static int
row_of(struct tsql_row *r, const char *id, const char *event,
    const char *zone, const char *row, const char *col)
{
	const char	*in[5] = { id, event, zone, row, col };
	char		 text[5][80], *cols[5];
	int		 i;

	for (i = 0; i < 5; i++) {
		cols[i] = NULL;
		if (in[i] != NULL) {
			snprintf(text[i], sizeof(text[i]), "%s", in[i]);
			cols[i] = text[i];
		}
	}
	return tsql_row_parse(cols, r);
}

static void
test_tsql_verdicts(void **state)
{
	const struct tsql_row	*o;
	struct tsql_row		 rows[2];
	struct ticket		 t;
	char			 dt[STAMP_LEN];

	(void)state;
	sample(&t, T_ID);
	assert_int_equal(row_of(&rows[0], T_ID, "Event1", "x", "3", "30"), -1);
	assert_int_equal(row_of(&rows[0], T_ID, NULL, "12", "3", "30"), -1);
	assert_int_equal(tsql_classify(&t, rows, 0, &o), TSQL_ABSENT);
	assert_null(o);

	/* the same seat number of another event is another seat */
	assert_int_equal(row_of(&rows[0], T_ID2, "Event3", "12", "3", "30"), 0);
	assert_int_equal(tsql_classify(&t, rows, 1, &o), TSQL_ABSENT);

	assert_int_equal(row_of(&rows[1], T_ID, "Event1", "12", "3", "30"), 0);
	assert_int_equal(tsql_classify(&t, rows, 2, &o), TSQL_PRESENT);

	assert_int_equal(row_of(&rows[1], T_ID2, "Event1", "12", "3", "30"), 0);
	assert_int_equal(tsql_classify(&t, rows, 2, &o), TSQL_SEAT_TAKEN);
	assert_ptr_equal(o, &rows[1]);
	assert_string_equal(o->id, T_ID2);

	/* its own id elsewhere wins over another ticket on its seat */
	assert_int_equal(row_of(&rows[0], T_ID, "Event1", "12", "3", "29"), 0);
	assert_int_equal(tsql_classify(&t, rows, 2, &o), TSQL_ID_CONFLICT);
	assert_ptr_equal(o, &rows[0]);
	assert_int_equal(o->col, 29);

	assert_int_equal(tsql_datetime("2026-11-27T23:54:24.123Z", dt), 0);
	assert_string_equal(dt, "2026-11-27 23:54:24.123");
	assert_int_equal(tsql_datetime("2026-11-27 23:54:24.123Z", dt), -1);
}

/* ----------------------------------------- messages the consumer refuses */

static void
test_messages_dead_lettered(void **state)
{
	static const char *const poison[] = {
		"this is not JSON",
		"",
		"[]",
		"{\"ticketId\":\"" T_ID "\"}",
		/* a string where a number belongs */
		"{\"ticketId\":\"" T_ID "\",\"venueId\":\"Venue1\","
		"\"eventId\":\"Event1\",\"zoneId\":\"12\",\"row\":3,\"column\":30,"
		"\"price\":320.00,\"status\":\"CREATED\","
		"\"createdOn\":\"2026-11-27T23:54:24.123Z\"}",
		/* not a sale */
		"{\"ticketId\":\"" T_ID "\",\"venueId\":\"Venue1\","
		"\"eventId\":\"Event1\",\"zoneId\":12,\"row\":3,\"column\":30,"
		"\"price\":320.00,\"status\":\"PAID\","
		"\"createdOn\":\"2026-11-27T23:54:24.123Z\"}",
		/* a price MySQL's DECIMAL(10,2) cannot hold */
		"{\"ticketId\":\"" T_ID "\",\"venueId\":\"Venue1\","
		"\"eventId\":\"Event1\",\"zoneId\":12,\"row\":3,\"column\":30,"
		"\"price\":123456789.00,\"status\":\"CREATED\","
		"\"createdOn\":\"2026-11-27T23:54:24.123Z\"}",
		/* an id that would need quoting in SQL */
		"{\"ticketId\":\"" T_ID "\",\"venueId\":\"Ven'ue\","
		"\"eventId\":\"Event1\",\"zoneId\":12,\"row\":3,\"column\":30,"
		"\"price\":320.00,\"status\":\"CREATED\","
		"\"createdOn\":\"2026-11-27T23:54:24.123Z\"}",
	};
	struct ticket	 t;
	const char	*why;
	char		 deep[5001], json[TICKET_JSON_MAX];
	size_t		 i;
	int		 n;

	(void)state;
	for (i = 0; i < sizeof(poison) / sizeof(poison[0]); i++) {
		why = NULL;
		assert_int_equal(ticket_parse(poison[i], strlen(poison[i]), &t,
		    &why), -1);
		assert_non_null(why);
	}
	memset(deep, '[', sizeof(deep) - 1);
	deep[sizeof(deep) - 1] = '\0';
	assert_int_equal(ticket_parse(deep, strlen(deep), &t, &why), -1);
	/* what a responder publishes goes through, and to both writers */
	sample(&t, T_ID);
	assert_true((n = ticket_json(&t, json, sizeof(json))) > 0);
	assert_int_equal(ticket_parse(json, (size_t)n, &t, &why), 0);
	assert_string_equal(t.price, "320.00");
	assert_true(ddb_item_json(&t, deep, sizeof(deep)) > 0);
	{
		const struct ticket *tv[1] = { &t };

		assert_true(tsql_insert(tv, 1, deep, sizeof(deep)) > 0);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_item_json),
		cmocka_unit_test(test_put_json),
		cmocka_unit_test(test_batch_json),
		cmocka_unit_test(test_unprocessed),
		cmocka_unit_test(test_table_ok),
		cmocka_unit_test(test_sigv4_scope),
		cmocka_unit_test(test_sigv4_param_and_errors),
		cmocka_unit_test(test_backoff_ceiling),
		cmocka_unit_test(test_backoff_full_jitter),
		cmocka_unit_test(test_tsql_insert),
		cmocka_unit_test(test_tsql_lookup),
		cmocka_unit_test(test_tsql_sizes),
		cmocka_unit_test(test_tsql_verdicts),
		cmocka_unit_test(test_messages_dead_lettered),
		cmocka_unit_test(test_ddb_endpoint_policy),
	};

	return cmocka_run_group_tests_name("consumer", tests, NULL, NULL);
}
