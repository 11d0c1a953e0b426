/* SPDX-License-Identifier: ISC */
/*
 * http.c - FastCGI request and response helpers (see http.h).
 */
#include <sys/time.h>

#include <ctype.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "http.h"
#include "jsonesc.h"
#include "log.h"
#include "metrics.h"

#define DEADLINE_REPEAT_MS	100	/* after the deadline, until disarmed */

static int	deadline_ms;

static void
on_alarm(int sig)
{
	(void)sig;	/* only interrupts the read (no SA_RESTART) */
}

int
http_deadline_init(int ms)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_alarm;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGALRM, &sa, NULL) != 0)
		return -1;
	deadline_ms = ms;
	return 0;
}

void
http_deadline(int on)
{
	struct itimerval it;

	if (deadline_ms <= 0)
		return;
	memset(&it, 0, sizeof(it));
	if (on) {
		it.it_value.tv_sec = deadline_ms / 1000;
		it.it_value.tv_usec = (deadline_ms % 1000) * 1000;
		/* and again every DEADLINE_REPEAT_MS until disarmed: a signal
		 * that came while no read was blocked (libfcgi between two
		 * reads) interrupted nothing, and the next read would wait
		 * for ever */
		it.it_interval.tv_usec = DEADLINE_REPEAT_MS * 1000;
	}
	(void)setitimer(ITIMER_REAL, &it, NULL);
}

enum http_body
http_read_body(FCGX_Request *req, char *buf, size_t cap, size_t *len)
{
	enum http_body	res = HTTP_BODY_OK;
	size_t		off = 0;
	int		n;
	char		extra;

	http_deadline(1);
	while (off < cap) {
		n = FCGX_GetStr(buf + off, (int)(cap - off), req->in);
		if (n < 0) {
			res = HTTP_BODY_ERROR;
			break;
		}
		if (n == 0)
			break;
		off += (size_t)n;
	}
	if (res == HTTP_BODY_OK && off == cap &&
	    FCGX_GetStr(&extra, 1, req->in) == 1)
		res = HTTP_BODY_TOO_LARGE;
	else if (res == HTTP_BODY_OK && FCGX_GetError(req->in) != 0)
		res = HTTP_BODY_ERROR;
	http_deadline(0);
	if (res == HTTP_BODY_ERROR)
		log_warnx("request body: not received within %d ms, or the "
		    "connection failed", deadline_ms);
	*len = off;
	return res;
}

const char *
http_body_str(enum http_body b)
{
	static const char *const names[] = { "OK", "TOO_LARGE", "ERROR" };

	return (unsigned)b < 3 ? names[b] : "?";
}

const char *
http_param(FCGX_Request *req, const char *name)
{
	const char *v = FCGX_GetParam(name, req->envp);

	return v != NULL ? v : "";
}

int
http_param_count(FCGX_Request *req, const char *name)
{
	size_t	  len = strlen(name);
	char	**e;
	int	  n = 0;

	for (e = req->envp; e != NULL && *e != NULL; e++)
		if (strncmp(*e, name, len) == 0 && (*e)[len] == '=')
			n++;
	return n;
}

const char *
http_origin_form(const char *uri)
{
	const char *p;

	if (strncasecmp(uri, "http://", 7) == 0)
		p = uri + 7;
	else if (strncasecmp(uri, "https://", 8) == 0)
		p = uri + 8;
	else
		return uri;
	p += strcspn(p, "/?#");
	return *p == '/' ? p : "/";
}

int
http_path(FCGX_Request *req, char *buf, size_t size)
{
	const char	*uri = http_param(req, "REQUEST_URI");
	size_t		 len;

	if (*uri == '\0')
		uri = http_param(req, "DOCUMENT_URI");
	if (*uri == '\0')
		uri = http_param(req, "SCRIPT_NAME");
	uri = http_origin_form(uri);
	len = strcspn(uri, "?");
	if (len >= size)
		return -1;
	memcpy(buf, uri, len);
	buf[len] = '\0';
	return (int)len;
}

int
http_content_type_is(const char *ct, const char *media)
{
	size_t n = strlen(media);

	while (*ct == ' ' || *ct == '\t')
		ct++;
	if (strncasecmp(ct, media, n) != 0)
		return 0;
	ct += n;
	while (*ct == ' ' || *ct == '\t')
		ct++;
	return *ct == '\0' || *ct == ';';
}

const char *
http_reason(int status)
{
	switch (status) {
	case 200: return "OK";
	case 201: return "Created";
	case 204: return "No Content";
	case 400: return "Bad Request";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 409: return "Conflict";
	case 410: return "Gone";
	case 411: return "Length Required";
	case 413: return "Payload Too Large";
	case 415: return "Unsupported Media Type";
	case 422: return "Unprocessable Content";
	case 500: return "Internal Server Error";
	case 503: return "Service Unavailable";
	default: return "Unknown";
	}
}

void
http_reply(FCGX_Request *req, int status, const char *headers,
    const char *body, size_t len)
{
	http_reply_type(req, status, "application/json", headers, body, len);
}

void
http_reply_type(FCGX_Request *req, int status, const char *type,
    const char *headers, const char *body, size_t len)
{
	char	head[1024];
	int	n;

	metrics_response(status, body, len);
	/* snprintf, not FCGX_FPrintF: libfcgi's printf lacks %zu */
	n = snprintf(head, sizeof(head), "Status: %d %s\r\n"
	    "Content-Type: %s\r\n"
	    "Content-Length: %zu\r\n"
	    "Cache-Control: no-store\r\n"
	    "%s\r\n", status, http_reason(status), type, len,
	    headers != NULL ? headers : "");
	if (n < 0 || (size_t)n >= sizeof(head))
		n = snprintf(head, sizeof(head), "Status: 500 Internal Server "
		    "Error\r\nContent-Type: application/json\r\n\r\n");
	FCGX_PutStr(head, n, req->out);
	/* a HEAD gets the status and headers of the GET, Content-Length
	 * included, and no body (RFC 9110 9.3.2) */
	if (strcmp(http_param(req, "REQUEST_METHOD"), "HEAD") != 0)
		FCGX_PutStr(body, (int)len, req->out);
}

void
http_error(FCGX_Request *req, int status, const char *code,
    const char *message, const char *headers)
{
	char	msg[512], body[640];
	int	n;

	if (json_escape(message, msg, sizeof(msg)) < 0)
		snprintf(msg, sizeof(msg), "(message too long)");
	n = snprintf(body, sizeof(body), "{\"error\":\"%s\",\"message\":\"%s\"}",
	    code, msg);
	if (n < 0 || (size_t)n >= sizeof(body))
		n = snprintf(body, sizeof(body), "{\"error\":\"%s\"}", code);
	http_reply(req, status, headers, body, (size_t)n);
}

const char *
http_health_state(const char *what, int ok, const char *detail)
{
	/* the last state logged, per dependency ("" = ok) */
	static struct {
		const char	*what;
		char		 last[256];
	} seen[4];
	size_t i;

	for (i = 0; i < sizeof(seen) / sizeof(seen[0]) && seen[i].what !=
	    NULL && strcmp(seen[i].what, what) != 0; i++)
		;
	if (ok) {
		if (i < sizeof(seen) / sizeof(seen[0]) && seen[i].what != NULL &&
		    seen[i].last[0] != '\0') {
			log_info("health: %s is back", what);
			seen[i].last[0] = '\0';
		}
		return "ok";
	}
	if (detail == NULL || detail[0] == '\0')
		detail = "down";
	if (i == sizeof(seen) / sizeof(seen[0]))
		log_warnx("health: %s down: %s", what, detail);
	else if (seen[i].what == NULL || strcmp(seen[i].last, detail) != 0) {
		seen[i].what = what;
		snprintf(seen[i].last, sizeof(seen[i].last), "%s", detail);
		log_warnx("health: %s down: %s", what, detail);
	}
	return "down";
}
