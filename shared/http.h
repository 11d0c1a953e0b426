/* SPDX-License-Identifier: ISC */
/*
 * http.h - FastCGI request and response helpers shared by the responders:
 * reading a capped body, the status line, JSON answers and JSON errors
 * ({"error":"CODE","message":"..."}).  Every response is application/json
 * but the metrics text.  Every answer is counted (metrics.h).
 */
#ifndef BOX_HTTP_H
#define BOX_HTTP_H

#include <stddef.h>

#include <fcgiapp.h>

/* Outcomes of http_read_body(). */
enum http_body {
	HTTP_BODY_OK,
	HTTP_BODY_TOO_LARGE,	/* over cap (only cap+1 bytes were read) */
	HTTP_BODY_ERROR		/* the stream failed, or the deadline passed */
};

/*
 * The longest a responder waits for the rest of a request: a web server
 * that passes the body on as the client sends it (Apache's mod_proxy_fcgi
 * connects to the responder first) would hold a responder for as long as a
 * slow client likes; nginx and lighttpd send a request whole.  Installs a
 * SIGALRM handler without SA_RESTART; http_deadline(1) arms a timer of ms
 * after which a blocked read of the request fails (EINTR), and so does any
 * read begun later (the signal repeats every 100 ms), until
 * http_deadline(0) disarms it.  Without http_deadline_init() no deadline
 * is armed.
 */
int	http_deadline_init(int ms);
void	http_deadline(int on);

/* Reads the request body into buf (at most cap bytes) within the deadline
 * (http_deadline_init()); on HTTP_BODY_OK *len is its length. */
enum http_body http_read_body(FCGX_Request *req, char *buf, size_t cap,
	    size_t *len);
/* "OK", "TOO_LARGE", "ERROR"; "?" out of range. */
const char *http_body_str(enum http_body b);

/* The request's parameter or "" (never NULL). */
const char *http_param(FCGX_Request *req, const char *name);
/* How many times the web server passed the parameter name (nginx before
 * 1.23 passes a header sent twice as two parameters, of which
 * http_param() sees the first; lighttpd and Apache join the values with
 * ", "). */
int	http_param_count(FCGX_Request *req, const char *name);

/* The path of the request (REQUEST_URI up to '?', else DOCUMENT_URI or
 * SCRIPT_NAME) copied into buf; returns its length or -1 if too long. */
int	http_path(FCGX_Request *req, char *buf, size_t size);
/* A request target in absolute form (RFC 9112 section 3.2.2: "http://" or
 * "https://", any case, then the authority) from its path on ("/" if it
 * has none), any other as it is; the web servers pass it on so in
 * REQUEST_URI. */
const char *http_origin_form(const char *uri);

/* 1 if CONTENT_TYPE names the media type (case-insensitive, parameters such
 * as charset allowed), else 0. */
int	http_content_type_is(const char *content_type, const char *media);

/* Reason phrase of a status code. */
const char *http_reason(int status);

/* Sends status, Content-Type: application/json, optional extra header lines
 * (each ending in "\r\n", or NULL) and the body; to a HEAD request the
 * same status and headers (Content-Length of the body) without the body. */
void	http_reply(FCGX_Request *req, int status, const char *headers,
	    const char *body, size_t len);
/* Same with another Content-Type (the Prometheus text of /metrics). */
void	http_reply_type(FCGX_Request *req, int status, const char *type,
	    const char *headers, const char *body, size_t len);
/* Sends {"error":code,"message":message} with status. */
void	http_error(FCGX_Request *req, int status, const char *code,
	    const char *message, const char *headers);

/* The state of one dependency ("redis", "mysql", "broker") for a health
 * answer, which anyone may read: "ok" or "down", never the error text
 * (it names accounts, hosts, server messages).  The text goes to the log
 * instead, once per change of state or text in this process.  detail is
 * the connection's errstr (ignored when ok). */
const char *http_health_state(const char *what, int ok, const char *detail);

#endif
