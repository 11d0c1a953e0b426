/* SPDX-License-Identifier: ISC */
/*
 * ddb.c - DynamoDB client over libcurl (see ddb.h).
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <json-c/json.h>

#include "awscreds.h"
#include "clock.h"
#include "ddb.h"
#include "fmt.h"

int
ddb_sigv4_param(const char *region, char *buf, size_t size)
{
	int n = snprintf(buf, size, "aws:amz:%s:dynamodb", region);

	return n >= 0 && (size_t)n < size ? 0 : -1;
}

int
ddb_target_header(const char *op, char *buf, size_t size)
{
	int n = snprintf(buf, size, "X-Amz-Target: DynamoDB_20120810.%s", op);

	return n >= 0 && (size_t)n < size ? 0 : -1;
}

/* 1 if host (without port, brackets removed) names this machine. */
static int
loopback_host(const char *host, size_t len)
{
	if (len == 9 && strncasecmp(host, "localhost", 9) == 0)
		return 1;
	if (len == 3 && strncmp(host, "::1", 3) == 0)
		return 1;
	/* 127.0.0.0/8, written as a dotted quad */
	if (len >= 7 && strncmp(host, "127.", 4) == 0) {
		size_t i;

		for (i = 4; i < len; i++)
			if (!isdigit((unsigned char)host[i]) && host[i] != '.')
				return 0;
		return 1;
	}
	return 0;
}

int
ddb_endpoint_check(const char *endpoint, int token, char *err, size_t errlen)
{
	const char	*host, *end;
	size_t		 len;

	if (strncasecmp(endpoint, "https://", 8) == 0)
		return 0;
	if (strncasecmp(endpoint, "http://", 7) != 0) {
		snprintf(err, errlen, "dynamodb_endpoint '%s': only http:// "
		    "and https:// endpoints are allowed", endpoint);
		return -1;
	}
	if (!token)
		return 0;	/* signed, no secret on the wire */
	host = endpoint + 7;
	if (*host == '[') {
		host++;
		end = strchr(host, ']');
	} else
		end = host + strcspn(host, ":/?#");
	len = end != NULL ? (size_t)(end - host) : 0;
	if (strchr(endpoint + 7, '@') == NULL && loopback_host(host, len))
		return 0;
	snprintf(err, errlen, "dynamodb_endpoint '%s': aws_session_token is "
	    "set, and it would travel in clear text over http:// to a host "
	    "other than this one (use https://)", endpoint);
	return -1;
}

/* Appends line to the header list *l; on failure (out of memory) frees
 * the whole list, sets *l to NULL and returns -1 (curl_slist_append()
 * leaves the list as it was, which the caller would then lose). */
static int
slist_add(struct curl_slist **l, const char *line)
{
	struct curl_slist *n;

	if ((n = curl_slist_append(*l, line)) == NULL) {
		curl_slist_free_all(*l);
		*l = NULL;
		return -1;
	}
	*l = n;
	return 0;
}

/* The credentials of d->creds, refreshed if they are about to expire, put
 * into userpwd and the token header when they changed.  Returns 0 or -1
 * with errstr. */
static int
creds_apply(struct ddb *d)
{
	const struct awscreds_set	*cur = &d->creds->cur;
	struct curl_slist		*l = NULL;
	int				 n;

	if (awscreds_refresh(d->creds, wall_ms()) < 0) {
		err_set(&d->err, d->errstr, ERR_OTHER, "dynamodb: credentials "
		    "expired: %s", d->creds->errstr);
		return -1;
	}
	if (d->creds_gen == d->creds->generation)
		return 0;
	if (cur->token[0] != '\0' && ddb_endpoint_check(d->endpoint, 1,
	    d->errstr, sizeof(d->errstr)) != 0)
		return -1;
	n = snprintf(d->userpwd, sizeof(d->userpwd), "%s:%s", cur->access_key,
	    cur->secret_key);
	if (n < 0 || (size_t)n >= sizeof(d->userpwd) ||
	    fmt_trunc(d->token_hdr, sizeof(d->token_hdr),
	    "X-Amz-Security-Token: %s", cur->token) != 0) {
		err_set(&d->err, d->errstr, ERR_OTHER, "dynamodb: credentials "
		    "too long");
		return -1;
	}
	if (slist_add(&l, "Content-Type: application/x-amz-json-1.0") != 0 ||
	    (cur->token[0] != '\0' && slist_add(&l, d->token_hdr) != 0)) {
		err_set(&d->err, d->errstr, ERR_OTHER, "dynamodb: out of memory");
		return -1;
	}
	curl_slist_free_all(d->hdr_base);
	d->hdr_base = l;
	d->creds_gen = d->creds->generation;
	return 0;
}

int
ddb_init(struct ddb *d, const struct conf *c)
{
	int n;

	memset(d, 0, sizeof(*d));
	snprintf(d->endpoint, sizeof(d->endpoint), "%s", c->dynamodb_endpoint);
	snprintf(d->region, sizeof(d->region), "%s", c->dynamodb_region);
	snprintf(d->table, sizeof(d->table), "%s", c->dynamodb_table);
	d->timeout_ms = c->dynamodb_timeout_ms;
	n = snprintf(d->userpwd, sizeof(d->userpwd), "%s:%s",
	    c->aws_access_key_id, c->aws_secret_access_key);
	if (n < 0 || (size_t)n >= sizeof(d->userpwd) ||
	    ddb_sigv4_param(d->region, d->sigv4, sizeof(d->sigv4)) != 0) {
		err_set(&d->err, d->errstr, ERR_OTHER, "dynamodb: credentials "
		    "or region too long");
		return -1;
	}
	if (ddb_endpoint_check(d->endpoint, c->aws_session_token[0] != '\0',
	    d->errstr, sizeof(d->errstr)) != 0) {
		d->err = ERR_OTHER;
		return -1;
	}
	if (c->aws_session_token[0] != '\0')
		snprintf(d->token_hdr, sizeof(d->token_hdr),
		    "X-Amz-Security-Token: %s", c->aws_session_token);
	if (slist_add(&d->hdr_base, "Content-Type: "
	    "application/x-amz-json-1.0") != 0 ||
	    (c->aws_session_token[0] != '\0' &&
	    slist_add(&d->hdr_base, d->token_hdr) != 0) ||
	    (d->curl = curl_easy_init()) == NULL) {
		err_set(&d->err, d->errstr, ERR_OTHER, "dynamodb: curl init");
		return -1;
	}
	/* without SigV4 the key pair would go out as HTTP Basic: refuse */
	if (curl_easy_setopt(d->curl, CURLOPT_AWS_SIGV4, d->sigv4) !=
	    CURLE_OK) {
		err_set(&d->err, d->errstr, ERR_OTHER, "dynamodb: this libcurl "
		    "cannot sign requests (CURLOPT_AWS_SIGV4 refused, %s); "
		    "libcurl 7.75 or later is needed", curl_version());
		return -1;
	}
	curl_easy_reset(d->curl);
	if (awscreds_source_parse(c->aws_credentials) != AWSCREDS_STATIC) {
		if ((d->creds = malloc(sizeof(*d->creds))) == NULL) {
			err_set(&d->err, d->errstr, ERR_OTHER, "dynamodb: out "
			    "of memory");
			return -1;
		}
		if (awscreds_init(d->creds, c) != 0) {
			err_set(&d->err, d->errstr, ERR_OTHER, "dynamodb: %s",
			    d->creds->errstr);
			return -1;
		}
		return creds_apply(d);
	}
	return 0;
}

void
ddb_free(struct ddb *d)
{
	if (d->curl != NULL)
		curl_easy_cleanup(d->curl);
	curl_slist_free_all(d->hdr_base);
	d->curl = NULL;
	d->hdr_base = NULL;
	if (d->creds != NULL) {
		explicit_bzero(d->creds, sizeof(*d->creds));
		free(d->creds);
		d->creds = NULL;
	}
	explicit_bzero(d->userpwd, sizeof(d->userpwd));
	explicit_bzero(d->token_hdr, sizeof(d->token_hdr));
}

static size_t
on_data(char *ptr, size_t size, size_t nmemb, void *arg)
{
	struct ddb_resp	*r = arg;
	size_t		 n = size * nmemb;
	char		*p;

	if (n > DDB_RESP_MAX - r->len)
		return 0;	/* too large: abort the transfer */
	if ((p = realloc(r->body, r->len + n + 1)) == NULL)
		return 0;
	memcpy(p + r->len, ptr, n);
	r->len += n;
	p[r->len] = '\0';
	r->body = p;
	return n;
}

int
ddb_prepare(struct ddb *d, CURL *h, struct curl_slist **hdrs, const char *op,
    const char *json, struct ddb_resp *resp)
{
	char			 target[128];
	struct curl_slist	*s, *l = NULL;

	memset(resp, 0, sizeof(*resp));
	if ((d->creds != NULL && creds_apply(d) != 0) ||
	    ddb_target_header(op, target, sizeof(target)) != 0)
		return -1;
	for (s = d->hdr_base; s != NULL; s = s->next)
		if (slist_add(&l, s->data) != 0)
			return -1;
	if (slist_add(&l, target) != 0)
		return -1;
	/* No "Expect:" line to suppress 100-continue: libcurl 7.88 signs such
	 * a removed header (curl issue #11664) and AWS then refuses the
	 * request; below 1 MiB (DDB bodies are far smaller) libcurl sends no
	 * Expect header anyway. */
	*hdrs = l;
	curl_easy_reset(h);
	/* Every option is checked.  SigV4 comes before the key pair, and a
	 * refused SigV4 stops here: the secret never goes out as Basic. */
	if (curl_easy_setopt(h, CURLOPT_AWS_SIGV4, d->sigv4) != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_USERPWD, d->userpwd) != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https") !=
	    CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L) != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_URL, d->endpoint) != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_HTTPHEADER, l) != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_POSTFIELDS, json) != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, (long)strlen(json)) !=
	    CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)d->timeout_ms) !=
	    CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS,
	    (long)d->timeout_ms) != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L) != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_data) != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_WRITEDATA, resp) != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L) != CURLE_OK) {
		curl_easy_reset(h);	/* forget the key pair */
		return -1;
	}
	return 0;
}

void
ddb_parse_error(const char *body, char *type, size_t tsize, char *msg,
    size_t msize)
{
	struct json_object	*o, *v;
	const char		*t, *hash;

	type[0] = msg[0] = '\0';
	if (body == NULL || (o = json_tokener_parse(body)) == NULL)
		return;
	if (json_object_object_get_ex(o, "__type", &v) &&
	    (t = json_object_get_string(v)) != NULL) {
		/* "com.amazonaws.dynamodb.v20120810#ThrottlingException" */
		hash = strrchr(t, '#');
		snprintf(type, tsize, "%s", hash != NULL ? hash + 1 : t);
	}
	if ((json_object_object_get_ex(o, "message", &v) ||
	    json_object_object_get_ex(o, "Message", &v)) &&
	    (t = json_object_get_string(v)) != NULL)
		snprintf(msg, msize, "%s", t);
	json_object_put(o);
}

void
ddb_finish(CURL *h, struct ddb_resp *resp)
{
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &resp->status);
	if (resp->status >= 400)
		ddb_parse_error(resp->body, resp->type, sizeof(resp->type),
		    resp->message, sizeof(resp->message));
}

int
ddb_retryable(long status, const char *type)
{
	if (status == 0 || status >= 500)
		return 1;
	return strcmp(type, "ProvisionedThroughputExceededException") == 0 ||
	    strcmp(type, "ThrottlingException") == 0 ||
	    strcmp(type, "RequestLimitExceeded") == 0 ||
	    strcmp(type, "LimitExceededException") == 0 ||
	    strcmp(type, "TransactionConflictException") == 0;
}

int
ddb_call(struct ddb *d, const char *op, const char *json,
    struct ddb_resp *resp)
{
	struct curl_slist	*hdrs = NULL;
	CURLcode		 rc;

	d->errstr[0] = '\0';
	if (ddb_prepare(d, d->curl, &hdrs, op, json, resp) != 0) {
		curl_slist_free_all(hdrs);
		if (d->errstr[0] == '\0')	/* not a credentials error */
			err_set(&d->err, d->errstr, ERR_OTHER, "dynamodb: "
			    "cannot set up the request (out of memory or an "
			    "option refused)");
		return -1;
	}
	rc = curl_easy_perform(d->curl);
	curl_slist_free_all(hdrs);
	if (rc != CURLE_OK) {
		err_set(&d->err, d->errstr, ERR_IO, "dynamodb %s: %s: %s",
		    d->endpoint, op, curl_easy_strerror(rc));
		ddb_resp_free(resp);
		return -1;
	}
	ddb_finish(d->curl, resp);
	if (resp->status >= 400)
		err_set(&d->err, d->errstr, ERR_SERVER, "dynamodb %s: HTTP %ld "
		    "%s: %s", op, resp->status, resp->type, resp->message);
	return 0;
}

void
ddb_resp_free(struct ddb_resp *resp)
{
	free(resp->body);
	resp->body = NULL;
	resp->len = 0;
}

int
ddb_create_table(struct ddb *d, int *created)
{
	struct ddb_resp	 r;
	char		 json[512];
	int		 ret = 0;

	snprintf(json, sizeof(json), "{\"TableName\":\"%s\","
	    "\"AttributeDefinitions\":[{\"AttributeName\":\"ticketId\","
	    "\"AttributeType\":\"S\"}],\"KeySchema\":[{\"AttributeName\":"
	    "\"ticketId\",\"KeyType\":\"HASH\"}],\"BillingMode\":"
	    "\"PAY_PER_REQUEST\"}", d->table);
	if (ddb_call(d, "CreateTable", json, &r) != 0)
		return -1;
	*created = r.status == 200;
	if (r.status != 200 &&
	    strcmp(r.type, "ResourceInUseException") != 0)
		ret = -1;
	ddb_resp_free(&r);
	return ret;
}

int
ddb_delete_table(struct ddb *d)
{
	struct ddb_resp	 r;
	char		 json[320];
	int		 ret;

	snprintf(json, sizeof(json), "{\"TableName\":\"%s\"}", d->table);
	if (ddb_call(d, "DeleteTable", json, &r) != 0)
		return -1;
	ret = r.status == 200 ||
	    strcmp(r.type, "ResourceNotFoundException") == 0 ? 0 : -1;
	ddb_resp_free(&r);
	return ret;
}

long
ddb_count(struct ddb *d)
{
	struct ddb_scan		 s;
	struct json_object	*page, *v;
	long			 total = 0;
	int			 rc;

	ddb_scan_init(&s, d, "\"Select\":\"COUNT\"");
	while ((rc = ddb_scan_next(&s, &page)) == 0 && page != NULL) {
		if (json_object_object_get_ex(page, "Count", &v))
			total += json_object_get_int64(v);
		json_object_put(page);
	}
	return rc == 0 ? total : -1;
}

void
ddb_scan_init(struct ddb_scan *s, struct ddb *d, const char *extra)
{
	s->d = d;
	s->extra = extra;
	s->start[0] = '\0';
	s->done = 0;
}

int
ddb_scan_next(struct ddb_scan *s, struct json_object **page)
{
	struct ddb		*d = s->d;
	struct json_object	*o, *lek;
	struct ddb_resp		 r;
	char			 req[DDB_SCAN_KEY_MAX + CONF_STR_MAX + 256];
	const char		*key;
	int			 n;

	*page = NULL;
	if (s->done)
		return 0;
	n = snprintf(req, sizeof(req), "{\"TableName\":\"%s\"%s%s%s%s}",
	    d->table, s->extra != NULL ? "," : "",
	    s->extra != NULL ? s->extra : "",
	    s->start[0] != '\0' ? ",\"ExclusiveStartKey\":" : "", s->start);
	if (n < 0 || (size_t)n >= sizeof(req)) {
		err_set(&d->err, d->errstr, ERR_OTHER,
		    "dynamodb Scan: request too long");
		return -1;
	}
	if (ddb_call(d, "Scan", req, &r) != 0)
		return -1;
	if (r.status != 200 || (o = json_tokener_parse(r.body)) == NULL) {
		if (r.status == 200)
			err_set(&d->err, d->errstr, ERR_OTHER,
			    "dynamodb Scan: response is not JSON");
		else if (r.status < 400)
			err_set(&d->err, d->errstr, ERR_SERVER,
			    "dynamodb Scan: HTTP %ld", r.status);
		ddb_resp_free(&r);
		return -1;
	}
	ddb_resp_free(&r);
	s->done = 1;
	if (json_object_object_get_ex(o, "LastEvaluatedKey", &lek)) {
		key = json_object_to_json_string_ext(lek,
		    JSON_C_TO_STRING_PLAIN);
		if (strlen(key) >= sizeof(s->start)) {
			err_set(&d->err, d->errstr, ERR_OTHER,
			    "dynamodb Scan: LastEvaluatedKey longer than %zu bytes",
			    sizeof(s->start) - 1);
			json_object_put(o);
			return -1;
		}
		memcpy(s->start, key, strlen(key) + 1);
		s->done = 0;
	}
	*page = o;
	return 0;
}
