/* SPDX-License-Identifier: ISC */
/*
 * pubframe.h - the frames between a responder and the local publisher
 * (pubd/, docs/performance.md "Publishing with many messages in flight"):
 * one request frame per message, one answer frame per request, over a unix
 * stream socket.  Encoding and parsing only, no I/O (fuzzed:
 * tests/fuzz/fuzz_pubframe.c).
 *
 * Request (responder -> pubd), integers big-endian:
 *
 *	'B' 'P' flags:1 idlen:1 exlen:1 keylen:1 timeout_ms:4 bodylen:4
 *	id[idlen] exchange[exlen] key[keylen] body[bodylen]
 *
 * flags bit 0: mandatory.  idlen 1..PUBFRAME_ID_MAX, keylen
 * 1..PUBFRAME_NAME_MAX, exlen 0..PUBFRAME_NAME_MAX (0: the default
 * exchange), timeout_ms 1..PUBFRAME_TIMEOUT_MAX, bodylen 0..PUBFRAME_BODY_MAX;
 * id, exchange and key printable ASCII.
 *
 * Answer (pubd -> responder):
 *
 *	'B' 'A' result:1 idlen:1 whylen:1 id[idlen] why[whylen]
 *
 * result: enum mq_result (mq.h); why: errstr of a failure, else empty.
 */
#ifndef BOX_PUBFRAME_H
#define BOX_PUBFRAME_H

#include <stddef.h>
#include <stdint.h>

#define PUBFRAME_HDR		14	/* bytes before id of a request */
#define PUBFRAME_ANS_HDR	5	/* bytes before id of an answer */
#define PUBFRAME_ID_MAX		64
#define PUBFRAME_NAME_MAX	127	/* exchange, routing key */
#define PUBFRAME_WHY_MAX	255
#define PUBFRAME_BODY_MAX	(256 * 1024)
#define PUBFRAME_TIMEOUT_MAX	600000	/* ms, amqp_confirm_timeout_ms's max */
#define PUBFRAME_MANDATORY	0x01
/* the largest request and answer */
#define PUBFRAME_REQ_MAX	(PUBFRAME_HDR + PUBFRAME_ID_MAX + \
				 2 * PUBFRAME_NAME_MAX + PUBFRAME_BODY_MAX)
#define PUBFRAME_ANS_MAX	(PUBFRAME_ANS_HDR + PUBFRAME_ID_MAX + \
				 PUBFRAME_WHY_MAX)

/* A parsed request; the strings are NUL-terminated copies, body points
 * into the parsed buffer (valid while it is). */
struct pubframe_req {
	char		 id[PUBFRAME_ID_MAX + 1];
	char		 exchange[PUBFRAME_NAME_MAX + 1];
	char		 key[PUBFRAME_NAME_MAX + 1];
	int		 mandatory;
	int		 timeout_ms;
	const uint8_t	*body;
	size_t		 bodylen;
};

struct pubframe_ans {
	int	result;			/* enum mq_result */
	char	id[PUBFRAME_ID_MAX + 1];
	char	why[PUBFRAME_WHY_MAX + 1];
};

enum pubframe_status {
	PUBFRAME_MORE = 0,	/* a frame's beginning: read more */
	PUBFRAME_BAD = -1	/* not a frame: drop the peer */
};

/* Writes the request into buf (size bytes).  Returns its length, or -1 if
 * a field is out of its range or buf is too small. */
long	pubframe_req_encode(uint8_t *buf, size_t size, const char *id,
	    const char *exchange, const char *key, int mandatory, int timeout_ms,
	    const void *body, size_t bodylen);
/* Parses the request at the start of buf (len bytes).  Returns the bytes
 * it takes (> 0) with *r filled, PUBFRAME_MORE, or PUBFRAME_BAD with *why
 * set to a static reason. */
long	pubframe_req_parse(const uint8_t *buf, size_t len,
	    struct pubframe_req *r, const char **why);
/* Writes the answer into buf (PUBFRAME_ANS_MAX bytes at least; a longer
 * why is cut).  Returns its length, or -1 if id is out of range. */
long	pubframe_ans_encode(uint8_t *buf, size_t size, int result,
	    const char *id, const char *why);
/* Parses an answer as pubframe_req_parse() a request. */
long	pubframe_ans_parse(const uint8_t *buf, size_t len,
	    struct pubframe_ans *a, const char **why);

#endif
