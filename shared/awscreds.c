/* SPDX-License-Identifier: ISC */
/*
 * awscreds.c - AWS credentials: settings, shared file, EC2 metadata
 * service IMDSv2 (see awscreds.h).
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>
#include <json-c/json.h>

#include "awscreds.h"
#include "clock.h"
#include "fmt.h"
#include "log.h"
#include "when.h"

static const char *const source_names[AWSCREDS__MAX] = {
	"static", "file", "imds", "auto"
};

int
awscreds_source_parse(const char *name)
{
	int i;

	for (i = 0; i < AWSCREDS__MAX; i++)
		if (strcmp(name, source_names[i]) == 0)
			return i;
	return -1;
}

const char *
awscreds_source_str(enum awscreds_source s)
{
	return (unsigned)s < AWSCREDS__MAX ? source_names[s] : "?";
}

/* Copies value into dst (size bytes); -1 if it does not fit. */
static int
put(char *dst, size_t size, const char *value, size_t len)
{
	if (len >= size)
		return -1;
	memcpy(dst, value, len);
	dst[len] = '\0';
	return 0;
}

/* ------------------------------------------------------------- parsers */

/* The next line of *p (without its end, blanks trimmed) into line. */
static int
next_line(const char **p, char *line, size_t size)
{
	const char	*s = *p, *e;
	size_t		 n;

	if (*s == '\0')
		return 0;
	e = strchr(s, '\n');
	n = e != NULL ? (size_t)(e - s) : strlen(s);
	*p = s + n + (e != NULL);
	while (n > 0 && isspace((unsigned char)*s)) {
		s++;
		n--;
	}
	while (n > 0 && isspace((unsigned char)s[n - 1]))
		n--;
	if (n >= size)
		n = size - 1;	/* too long for any value: fails below */
	memcpy(line, s, n);
	line[n] = '\0';
	return 1;
}

int
awscreds_parse_file(const char *text, const char *profile,
    struct awscreds_set *out, char *err, size_t errlen)
{
	char	 line[AWSCREDS_TOKEN_MAX + 64], *eq, *k, *v, *e;
	int	 in = 0, seen = 0, bad = 0;

	memset(out, 0, sizeof(*out));
	while (next_line(&text, line, sizeof(line))) {
		if (line[0] == '#' || line[0] == ';' || line[0] == '\0')
			continue;
		if (line[0] == '[') {
			if ((e = strchr(line, ']')) == NULL)
				continue;
			*e = '\0';
			for (k = line + 1; isspace((unsigned char)*k); k++)
				;
			for (e--; e >= k && isspace((unsigned char)*e); e--)
				*e = '\0';
			in = strcmp(k, profile) == 0;
			seen |= in;
			continue;
		}
		if (!in || (eq = strchr(line, '=')) == NULL)
			continue;
		*eq = '\0';
		for (e = eq - 1; e >= line && isspace((unsigned char)*e); e--)
			*e = '\0';
		k = line;
		for (v = eq + 1; isspace((unsigned char)*v); v++)
			;
		if (strcmp(k, "aws_access_key_id") == 0)
			bad |= put(out->access_key, sizeof(out->access_key), v,
			    strlen(v));
		else if (strcmp(k, "aws_secret_access_key") == 0)
			bad |= put(out->secret_key, sizeof(out->secret_key), v,
			    strlen(v));
		else if (strcmp(k, "aws_session_token") == 0)
			bad |= put(out->token, sizeof(out->token), v, strlen(v));
	}
	if (!seen)
		snprintf(err, errlen, "no profile [%s]", profile);
	else if (bad)
		snprintf(err, errlen, "profile [%s]: a value is too long",
		    profile);
	else if (out->access_key[0] == '\0' || out->secret_key[0] == '\0')
		snprintf(err, errlen, "profile [%s]: no aws_access_key_id or "
		    "aws_secret_access_key", profile);
	else
		return 0;
	return -1;
}

/* The string member name of o into dst; -1 if missing or too long. */
static int
json_str(struct json_object *o, const char *name, char *dst, size_t size)
{
	struct json_object *v;

	if (!json_object_object_get_ex(o, name, &v) ||
	    !json_object_is_type(v, json_type_string))
		return -1;
	return put(dst, size, json_object_get_string(v),
	    (size_t)json_object_get_string_len(v));
}

int
awscreds_parse_imds(const char *json, struct awscreds_set *out, char *err,
    size_t errlen)
{
	struct json_object	*o;
	char			 code[32], exp[64];
	int			 rc = -1;

	memset(out, 0, sizeof(*out));
	if ((o = json_tokener_parse(json)) == NULL ||
	    !json_object_is_type(o, json_type_object)) {
		snprintf(err, errlen, "metadata credentials: not a JSON object");
		goto done;
	}
	if (json_str(o, "Code", code, sizeof(code)) != 0 ||
	    strcmp(code, "Success") != 0) {
		snprintf(err, errlen, "metadata credentials: Code is not "
		    "Success");
		goto done;
	}
	if (json_str(o, "AccessKeyId", out->access_key,
	    sizeof(out->access_key)) != 0 || out->access_key[0] == '\0' ||
	    json_str(o, "SecretAccessKey", out->secret_key,
	    sizeof(out->secret_key)) != 0 || out->secret_key[0] == '\0' ||
	    json_str(o, "Token", out->token, sizeof(out->token)) != 0) {
		snprintf(err, errlen, "metadata credentials: AccessKeyId, "
		    "SecretAccessKey or Token missing or too long");
		goto done;
	}
	if (json_str(o, "Expiration", exp, sizeof(exp)) != 0 ||
	    when_parse(exp, &out->expires_ms) != 0) {
		snprintf(err, errlen, "metadata credentials: no valid "
		    "Expiration");
		goto done;
	}
	rc = 0;
done:
	if (o != NULL)
		json_object_put(o);
	if (rc != 0)
		memset(out, 0, sizeof(*out));
	return rc;
}

/* ------------------------------------------------------------- sources */

static int
read_file(struct awscreds *a, struct awscreds_set *out)
{
	FILE	*f;
	char	*text, err[160];
	size_t	 n;
	int	 rc;

	if ((f = fopen(a->file, "r")) == NULL) {
		fmt_trunc(a->errstr, sizeof(a->errstr), "aws credentials %s: %s",
		    a->file, strerror(errno));
		return -1;
	}
	if ((text = malloc(AWSCREDS_FILE_MAX + 1)) == NULL) {
		fclose(f);
		fmt_trunc(a->errstr, sizeof(a->errstr), "out of memory");
		return -1;
	}
	n = fread(text, 1, AWSCREDS_FILE_MAX + 1, f);
	fclose(f);
	if (n > AWSCREDS_FILE_MAX) {
		free(text);
		fmt_trunc(a->errstr, sizeof(a->errstr), "aws credentials %s: "
		    "larger than %d bytes", a->file, AWSCREDS_FILE_MAX);
		return -1;
	}
	text[n] = '\0';
	rc = awscreds_parse_file(text, a->profile, out, err, sizeof(err));
	explicit_bzero(text, n);
	free(text);
	if (rc != 0)
		fmt_trunc(a->errstr, sizeof(a->errstr), "aws credentials %s: %s",
		    a->file, err);
	return rc;
}

struct body {
	char	*p;
	size_t	 len;
};

static size_t
on_body(char *ptr, size_t size, size_t nmemb, void *arg)
{
	struct body	*b = arg;
	size_t		 n = size * nmemb;

	if (n > AWSCREDS_RESP_MAX - b->len)
		return 0;
	memcpy(b->p + b->len, ptr, n);
	b->len += n;
	b->p[b->len] = '\0';
	return n;
}

/* One request to the metadata service: PUT (put set) or GET of path with
 * the header hdr.  The body (NUL-terminated) into b.  Returns 0 on HTTP 200
 * or -1 with errstr. */
static int
imds_call(struct awscreds *a, CURL *h, int is_put, const char *path,
    const char *hdr, struct body *b)
{
	struct curl_slist	*l;
	char			 url[CONF_STR_MAX * 2];
	long			 status = 0;
	CURLcode		 rc;
	int			 bad = 0;

	b->len = 0;
	b->p[0] = '\0';
	if (fmt_trunc(url, sizeof(url), "%s%s", a->imds, path) != 0 ||
	    (l = curl_slist_append(NULL, hdr)) == NULL) {
		fmt_trunc(a->errstr, sizeof(a->errstr), "metadata: URL too long "
		    "or out of memory");
		return -1;
	}
	curl_easy_reset(h);
	bad |= curl_easy_setopt(h, CURLOPT_URL, url) != CURLE_OK;
	bad |= curl_easy_setopt(h, CURLOPT_HTTPHEADER, l) != CURLE_OK;
	bad |= curl_easy_setopt(h, CURLOPT_NOPROXY, "*") != CURLE_OK;
	bad |= curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L) != CURLE_OK;
	bad |= curl_easy_setopt(h, CURLOPT_TIMEOUT_MS,
	    (long)a->timeout_ms) != CURLE_OK;
	bad |= curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS,
	    (long)a->timeout_ms) != CURLE_OK;
	bad |= curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body) != CURLE_OK;
	bad |= curl_easy_setopt(h, CURLOPT_WRITEDATA, b) != CURLE_OK;
	if (is_put) {
		bad |= curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, "PUT") !=
		    CURLE_OK;
		bad |= curl_easy_setopt(h, CURLOPT_POSTFIELDS, "") != CURLE_OK;
		bad |= curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, 0L) !=
		    CURLE_OK;
	}
	if (bad) {
		curl_slist_free_all(l);
		fmt_trunc(a->errstr, sizeof(a->errstr), "metadata: curl setup");
		return -1;
	}
	rc = curl_easy_perform(h);
	curl_slist_free_all(l);
	if (rc == CURLE_OK)
		curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
	if (rc != CURLE_OK || status != 200) {
		fmt_trunc(a->errstr, sizeof(a->errstr), "metadata %s %s: %s",
		    is_put ? "PUT" : "GET", path, rc != CURLE_OK ?
		    curl_easy_strerror(rc) : status == 401 ? "HTTP 401" :
		    status == 404 ? "HTTP 404 (no role attached?)" : "HTTP error");
		return -1;
	}
	return 0;
}

/* IMDSv2: session token, role name, the role's credentials. */
static int
imds_fetch(struct awscreds *a, struct awscreds_set *out)
{
	static const char	 creds_path[] =
	    "/latest/meta-data/iam/security-credentials/";
	struct body		 b;
	CURL			*h;
	char			 hdr[AWSCREDS_TOKEN_MAX], path[256], err[160];
	size_t			 n;
	int			 rc = -1;

	if ((b.p = malloc(AWSCREDS_RESP_MAX + 1)) == NULL) {
		fmt_trunc(a->errstr, sizeof(a->errstr), "metadata: out of "
		    "memory");
		return -1;
	}
	if ((h = curl_easy_init()) == NULL) {
		free(b.p);
		fmt_trunc(a->errstr, sizeof(a->errstr), "metadata: curl init");
		return -1;
	}
	if (imds_call(a, h, 1, "/latest/api/token",
	    "X-aws-ec2-metadata-token-ttl-seconds: 21600", &b) != 0)
		goto done;
	while (b.len > 0 && isspace((unsigned char)b.p[b.len - 1]))
		b.p[--b.len] = '\0';
	if (b.len == 0 || fmt_trunc(hdr, sizeof(hdr),
	    "X-aws-ec2-metadata-token: %s", b.p) != 0 ||
	    strpbrk(b.p, "\r\n") != NULL) {
		fmt_trunc(a->errstr, sizeof(a->errstr), "metadata: bad token");
		goto done;
	}
	if (imds_call(a, h, 0, creds_path, hdr, &b) != 0)
		goto done;
	/* the first role listed; IAM role names are [A-Za-z0-9+=,.@_-] */
	n = strcspn(b.p, "\r\n");
	b.p[n] = '\0';
	if (n == 0 || n > 64 || strspn(b.p, "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "abcdefghijklmnopqrstuvwxyz0123456789+=,.@_-") != n) {
		fmt_trunc(a->errstr, sizeof(a->errstr), "metadata: no usable "
		    "role name");
		goto done;
	}
	snprintf(path, sizeof(path), "%s%s", creds_path, b.p);
	if (imds_call(a, h, 0, path, hdr, &b) != 0)
		goto done;
	if (awscreds_parse_imds(b.p, out, err, sizeof(err)) != 0) {
		fmt_trunc(a->errstr, sizeof(a->errstr), "%s", err);
		goto done;
	}
	rc = 0;
done:
	explicit_bzero(b.p, AWSCREDS_RESP_MAX + 1);
	explicit_bzero(hdr, sizeof(hdr));
	free(b.p);
	curl_easy_cleanup(h);
	return rc;
}

/* ------------------------------------------------------------- the API */

/* auto: environment, then a file with the profile, then the metadata
 * service (the order of the AWS SDKs). */
static enum awscreds_source
resolve_auto(struct awscreds *a)
{
	struct awscreds_set	 s;
	const char		*k = getenv("AWS_ACCESS_KEY_ID");

	if (k != NULL && *k != '\0')
		return AWSCREDS_STATIC;
	if (read_file(a, &s) == 0) {
		explicit_bzero(&s, sizeof(s));
		return AWSCREDS_FILE;
	}
	return AWSCREDS_IMDS;
}

int
awscreds_init(struct awscreds *a, const struct conf *c)
{
	const char	*home = getenv("HOME");
	int		 src;

	memset(a, 0, sizeof(*a));
	if ((src = awscreds_source_parse(c->aws_credentials)) < 0) {
		fmt_trunc(a->errstr, sizeof(a->errstr), "aws_credentials: '%s' "
		    "is not static, file, imds or auto", c->aws_credentials);
		return -1;
	}
	if (c->aws_shared_credentials_file[0] != '\0')
		snprintf(a->file, sizeof(a->file), "%s",
		    c->aws_shared_credentials_file);
	else if (fmt_trunc(a->file, sizeof(a->file), "%s/.aws/credentials",
	    home != NULL ? home : "") != 0) {
		fmt_trunc(a->errstr, sizeof(a->errstr), "HOME too long");
		return -1;
	}
	snprintf(a->profile, sizeof(a->profile), "%s", c->aws_profile);
	snprintf(a->imds, sizeof(a->imds), "%s", c->aws_imds_endpoint);
	a->refresh_ms = c->aws_credentials_refresh_s * 1000;
	a->timeout_ms = c->dynamodb_timeout_ms;
	a->source = src == AWSCREDS_AUTO ? resolve_auto(a) :
	    (enum awscreds_source)src;
	switch (a->source) {
	case AWSCREDS_FILE:
		if (read_file(a, &a->cur) != 0)
			return -1;
		break;
	case AWSCREDS_IMDS:
		if (imds_fetch(a, &a->cur) != 0)
			return -1;
		break;
	default:
		if (put(a->cur.access_key, sizeof(a->cur.access_key),
		    c->aws_access_key_id, strlen(c->aws_access_key_id)) ||
		    put(a->cur.secret_key, sizeof(a->cur.secret_key),
		    c->aws_secret_access_key, strlen(c->aws_secret_access_key)) ||
		    put(a->cur.token, sizeof(a->cur.token),
		    c->aws_session_token, strlen(c->aws_session_token))) {
			fmt_trunc(a->errstr, sizeof(a->errstr), "aws "
			    "credentials too long");
			return -1;
		}
	}
	a->generation = 1;
	return 0;
}

int
awscreds_refresh(struct awscreds *a, long long now_ms)
{
	struct awscreds_set	s;
	int			changed;

	if (a->source != AWSCREDS_IMDS || a->cur.expires_ms == 0 ||
	    now_ms < a->cur.expires_ms - a->refresh_ms)
		return 0;
	if (now_ms < a->next_try_ms)
		return now_ms < a->cur.expires_ms ? 0 : -1;
	if (imds_fetch(a, &s) != 0) {
		a->next_try_ms = now_ms + AWSCREDS_RETRY_MS;
		log_warnx("aws credentials: refresh failed: %s (current ones "
		    "expire in %lld ms)", a->errstr, a->cur.expires_ms - now_ms);
		return now_ms < a->cur.expires_ms ? 0 : -1;
	}
	changed = strcmp(s.access_key, a->cur.access_key) != 0 ||
	    strcmp(s.secret_key, a->cur.secret_key) != 0 ||
	    strcmp(s.token, a->cur.token) != 0;
	a->cur = s;
	explicit_bzero(&s, sizeof(s));
	/* credentials that live less than refresh_ms: once a second at most */
	a->next_try_ms = now_ms + AWSCREDS_RETRY_MS;
	if (!changed)
		return 0;
	a->generation++;
	log_info("aws credentials: new credentials from the metadata service, "
	    "expiring in %lld s", (a->cur.expires_ms - now_ms) / 1000);
	return 1;
}
