/* SPDX-License-Identifier: ISC */
/*
 * ddb.h - DynamoDB over HTTP with libcurl: SigV4 signing by libcurl
 * (CURLOPT_AWS_SIGV4 with region and service given explicitly), the JSON
 * protocol (X-Amz-Target, application/x-amz-json-1.0), error types, and
 * the table of docs/consumer.md.  The same code talks to AWS or DynamoDB Local.
 */
#ifndef BOX_DDB_H
#define BOX_DDB_H

#include <stddef.h>

#include <curl/curl.h>

#include "conf.h"
#include "err.h"

#define DDB_RESP_MAX	(4 * 1024 * 1024)	/* cap on a response body */
#define DDB_SCAN_KEY_MAX 1024			/* a page's LastEvaluatedKey */

struct json_object;
struct awscreds;

struct ddb {
	CURL			*curl;
	struct curl_slist	*hdr_base;	/* content type, token */
	char			 endpoint[CONF_STR_MAX];
	char			 region[64];
	char			 table[CONF_STR_MAX];
	char			 userpwd[CONF_STR_MAX * 2 + 2];
	char			 sigv4[128];
	char			 token_hdr[CONF_STR_MAX * 8 + 32];
	int			 timeout_ms;
	struct awscreds		*creds;	/* aws_credentials not static, else NULL */
	unsigned long		 creds_gen;	/* generation in userpwd */
	int			 err;		/* enum err_kind, err.h */
	char			 errstr[ERRSTR_MAX];
};

/* A response: HTTP status, body (NUL-terminated, malloc'd), and for
 * errors the short DynamoDB error type ("ConditionalCheckFailedException")
 * and message. */
struct ddb_resp {
	long	 status;
	char	*body;
	size_t	 len;
	char	 type[96];
	char	 message[256];
};

/* The endpoint policy: http:// or https:// only, and with a session token
 * (which SigV4 sends as a header, in clear) http:// only to a loopback
 * host.  Returns 0, or -1 with err set. */
int	ddb_endpoint_check(const char *endpoint, int token, char *err,
	    size_t errlen);
/* Sets up the client: refuses an endpoint ddb_endpoint_check() refuses
 * and a libcurl without CURLOPT_AWS_SIGV4; unless aws_credentials is
 * static, gets the first credentials (awscreds.h).  Returns 0 or -1 with
 * errstr. */
int	ddb_init(struct ddb *d, const struct conf *c);
void	ddb_free(struct ddb *d);

/* Fills the signing string "aws:amz:<region>:dynamodb" into buf. */
int	ddb_sigv4_param(const char *region, char *buf, size_t size);
/* The header "X-Amz-Target: DynamoDB_20120810.<op>" into buf. */
int	ddb_target_header(const char *op, char *buf, size_t size);
/* Extracts the short error type and message from an error body. */
void	ddb_parse_error(const char *body, char *type, size_t tsize,
	    char *msg, size_t msize);
/* 1 if an error is worth retrying (throttling, 5xx, transport), else 0. */
int	ddb_retryable(long status, const char *type);

/* Prepares easy handle h for one call of op with body json (which must stay
 * valid until the transfer ends); resp collects the answer.  Returns 0, or
 * -1 if memory ran out or libcurl refused an option (then h carries no
 * credentials).  Used by both
 * ddb_call() and callers running many handles with curl multi. */
int	ddb_prepare(struct ddb *d, CURL *h, struct curl_slist **hdrs,
	    const char *op, const char *json, struct ddb_resp *resp);
/* Finishes a response after its transfer: status and error type. */
void	ddb_finish(CURL *h, struct ddb_resp *resp);

/* One synchronous call.  Returns 0 if a response arrived (check
 * resp->status), -1 on a transport failure with errstr set. */
int	ddb_call(struct ddb *d, const char *op, const char *json,
	    struct ddb_resp *resp);
void	ddb_resp_free(struct ddb_resp *resp);

/* Creates the table (ticketId S, on-demand) unless it exists (*created 1
 * if this call made it, 0 if it was there).  Returns 0, or -1 with errstr. */
int	ddb_create_table(struct ddb *d, int *created);
/* Deletes the table if it exists.  Returns 0 or -1. */
int	ddb_delete_table(struct ddb *d);
/* Number of items (Scan with Select COUNT, all pages), or -1. */
long	ddb_count(struct ddb *d);

/*
 * The pages of a Scan of the whole table, one call each:
 *
 *	ddb_scan_init(&s, d, "\"ProjectionExpression\":\"eventId\"");
 *	while ((rc = ddb_scan_next(&s, &page)) == 0 && page != NULL) {
 *		... json_object_object_get_ex(page, "Items", &items) ...
 *		json_object_put(page);
 *	}
 *	if (rc < 0) ... d->errstr ...
 *
 * extra: JSON members added to each request after TableName, or NULL.
 */
struct ddb_scan {
	struct ddb	*d;
	const char	*extra;
	char		 start[DDB_SCAN_KEY_MAX];	/* "" on the first page */
	int		 done;
};

void	ddb_scan_init(struct ddb_scan *s, struct ddb *d, const char *extra);
/* Fetches the next page.  Returns 0 with *page the parsed response (the
 * caller's to json_object_put), or NULL when the last page was read; or
 * -1 with d->errstr (transport, HTTP status, a body that is not JSON, a key too
 * long to send back). */
int	ddb_scan_next(struct ddb_scan *s, struct json_object **page);

#endif
