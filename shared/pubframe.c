/* SPDX-License-Identifier: ISC */
/*
 * pubframe.c - the responder <-> pubd frames (see pubframe.h).
 */
#include <stdint.h>
#include <string.h>

#include "mq.h"
#include "pubframe.h"

static void
put32(uint8_t *p, uint32_t v)
{
	p[0] = v >> 24;
	p[1] = v >> 16;
	p[2] = v >> 8;
	p[3] = v;
}

static uint32_t
get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	    (uint32_t)p[2] << 8 | p[3];
}

/* 1 if the n bytes at s are printable ASCII (no NUL, no control). */
static int
printable(const uint8_t *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (s[i] < 0x21 || s[i] > 0x7e)
			return 0;
	return 1;
}

/* Copies a printable field of n bytes at s into dst (n + 1 bytes). */
static int
field(char *dst, const uint8_t *s, size_t n)
{
	if (!printable(s, n))
		return -1;
	memcpy(dst, s, n);
	dst[n] = '\0';
	return 0;
}

long
pubframe_req_encode(uint8_t *buf, size_t size, const char *id,
    const char *exchange, const char *key, int mandatory, int timeout_ms,
    const void *body, size_t bodylen)
{
	size_t	il = strlen(id), el = strlen(exchange), kl = strlen(key), n;

	if (il < 1 || il > PUBFRAME_ID_MAX || el > PUBFRAME_NAME_MAX ||
	    kl < 1 || kl > PUBFRAME_NAME_MAX || timeout_ms < 1 ||
	    timeout_ms > PUBFRAME_TIMEOUT_MAX || bodylen > PUBFRAME_BODY_MAX)
		return -1;
	n = PUBFRAME_HDR + il + el + kl + bodylen;
	if (n > size)
		return -1;
	buf[0] = 'B';
	buf[1] = 'P';
	buf[2] = mandatory ? PUBFRAME_MANDATORY : 0;
	buf[3] = (uint8_t)il;
	buf[4] = (uint8_t)el;
	buf[5] = (uint8_t)kl;
	put32(buf + 6, (uint32_t)timeout_ms);
	put32(buf + 10, (uint32_t)bodylen);
	memcpy(buf + PUBFRAME_HDR, id, il);
	memcpy(buf + PUBFRAME_HDR + il, exchange, el);
	memcpy(buf + PUBFRAME_HDR + il + el, key, kl);
	if (bodylen > 0)
		memcpy(buf + PUBFRAME_HDR + il + el + kl, body, bodylen);
	return (long)n;
}

long
pubframe_req_parse(const uint8_t *buf, size_t len, struct pubframe_req *r,
    const char **why)
{
	size_t		il, el, kl, bl, need, off = PUBFRAME_HDR;
	uint32_t	t;

	if (len >= 1 && buf[0] != 'B')
		goto bad_magic;
	if (len >= 2 && buf[1] != 'P')
		goto bad_magic;
	if (len < PUBFRAME_HDR)
		return PUBFRAME_MORE;
	if (buf[2] & ~PUBFRAME_MANDATORY) {
		*why = "unknown flags";
		return PUBFRAME_BAD;
	}
	il = buf[3];
	el = buf[4];
	kl = buf[5];
	t = get32(buf + 6);
	bl = get32(buf + 10);
	if (il < 1 || il > PUBFRAME_ID_MAX || el > PUBFRAME_NAME_MAX ||
	    kl < 1 || kl > PUBFRAME_NAME_MAX) {
		*why = "id, exchange or key length out of range";
		return PUBFRAME_BAD;
	}
	if (t < 1 || t > PUBFRAME_TIMEOUT_MAX) {
		*why = "timeout out of range";
		return PUBFRAME_BAD;
	}
	if (bl > PUBFRAME_BODY_MAX) {
		*why = "body too long";
		return PUBFRAME_BAD;
	}
	need = PUBFRAME_HDR + il + el + kl + bl;
	if (len < need)
		return PUBFRAME_MORE;
	if (field(r->id, buf + off, il) != 0 ||
	    field(r->exchange, buf + off + il, el) != 0 ||
	    field(r->key, buf + off + il + el, kl) != 0) {
		*why = "id, exchange or key not printable";
		return PUBFRAME_BAD;
	}
	r->mandatory = (buf[2] & PUBFRAME_MANDATORY) != 0;
	r->timeout_ms = (int)t;
	r->body = buf + off + il + el + kl;
	r->bodylen = bl;
	return (long)need;
bad_magic:
	*why = "not a request frame";
	return PUBFRAME_BAD;
}

long
pubframe_ans_encode(uint8_t *buf, size_t size, int result, const char *id,
    const char *why)
{
	size_t	il = strlen(id), wl = strlen(why), i, n;

	if (il < 1 || il > PUBFRAME_ID_MAX || result < MQ_OK ||
	    result > MQ_UNKNOWN)
		return -1;
	if (wl > PUBFRAME_WHY_MAX)
		wl = PUBFRAME_WHY_MAX;
	n = PUBFRAME_ANS_HDR + il + wl;
	if (n > size)
		return -1;
	buf[0] = 'B';
	buf[1] = 'A';
	buf[2] = (uint8_t)result;
	buf[3] = (uint8_t)il;
	buf[4] = (uint8_t)wl;
	memcpy(buf + PUBFRAME_ANS_HDR, id, il);
	/* the reason travels printable: a control byte becomes '?' */
	for (i = 0; i < wl; i++)
		buf[PUBFRAME_ANS_HDR + il + i] = why[i] >= 0x20 &&
		    why[i] <= 0x7e ? (uint8_t)why[i] : '?';
	return (long)n;
}

long
pubframe_ans_parse(const uint8_t *buf, size_t len, struct pubframe_ans *a,
    const char **why)
{
	size_t	il, wl, i;

	if ((len >= 1 && buf[0] != 'B') || (len >= 2 && buf[1] != 'A')) {
		*why = "not an answer frame";
		return PUBFRAME_BAD;
	}
	if (len < PUBFRAME_ANS_HDR)
		return PUBFRAME_MORE;
	il = buf[3];
	wl = buf[4];
	if (buf[2] > MQ_UNKNOWN || il < 1 || il > PUBFRAME_ID_MAX) {
		*why = "result or id length out of range";
		return PUBFRAME_BAD;
	}
	if (len < PUBFRAME_ANS_HDR + il + wl)
		return PUBFRAME_MORE;
	if (field(a->id, buf + PUBFRAME_ANS_HDR, il) != 0) {
		*why = "id not printable";
		return PUBFRAME_BAD;
	}
	for (i = 0; i < wl; i++) {
		uint8_t c = buf[PUBFRAME_ANS_HDR + il + i];

		if (c < 0x20 || c > 0x7e) {
			*why = "reason not printable";
			return PUBFRAME_BAD;
		}
		a->why[i] = (char)c;
	}
	a->why[wl] = '\0';
	a->result = buf[2];
	return (long)(PUBFRAME_ANS_HDR + il + wl);
}
