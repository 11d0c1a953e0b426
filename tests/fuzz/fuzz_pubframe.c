/* SPDX-License-Identifier: ISC */
/*
 * fuzz_pubframe.c - libFuzzer harness for pubd's frame parsers
 * (shared/pubframe.c): the requests pubd reads from local processes, and
 * the answers a responder reads.  An accepted request stays within its
 * caps, its strings printable, its body inside the input, and encodes back
 * to the same bytes; a parse never claims more bytes than it was given,
 * and every prefix of an accepted frame asks for more.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "pubframe.h"

static int
printable(const char *s)
{
	for (; *s != '\0'; s++)
		if (*s < 0x21 || *s > 0x7e)
			return 0;
	return 1;
}

static void
request(const uint8_t *in, size_t size)
{
	static uint8_t		 re[PUBFRAME_REQ_MAX];
	struct pubframe_req	 r, r2;
	const char		*why = NULL;
	long			 n, m;

	n = pubframe_req_parse(in, size, &r, &why);
	if (n == PUBFRAME_BAD) {
		CHECK(why != NULL && *why != '\0');
		return;
	}
	if (n == PUBFRAME_MORE)
		return;
	CHECK(n > 0 && (size_t)n <= size);
	CHECK(strlen(r.id) >= 1 && strlen(r.id) <= PUBFRAME_ID_MAX);
	CHECK(strlen(r.key) >= 1 && strlen(r.key) <= PUBFRAME_NAME_MAX);
	CHECK(strlen(r.exchange) <= PUBFRAME_NAME_MAX);
	CHECK(printable(r.id) && printable(r.key) && printable(r.exchange));
	CHECK(r.timeout_ms >= 1 && r.timeout_ms <= PUBFRAME_TIMEOUT_MAX);
	CHECK(r.bodylen <= PUBFRAME_BODY_MAX);
	CHECK(r.body >= in && r.bodylen <= (size_t)(in + n - r.body));
	m = pubframe_req_encode(re, sizeof(re), r.id, r.exchange, r.key,
	    r.mandatory, r.timeout_ms, r.body, r.bodylen);
	CHECK(m == n && memcmp(re, in, (size_t)n) == 0);
	/* a prefix is never a whole frame */
	CHECK(pubframe_req_parse(in, (size_t)n - 1, &r2, &why) ==
	    PUBFRAME_MORE);
}

static void
answer(const uint8_t *in, size_t size)
{
	struct pubframe_ans	 a;
	const char		*why = NULL;
	long			 n;

	n = pubframe_ans_parse(in, size, &a, &why);
	if (n == PUBFRAME_BAD) {
		CHECK(why != NULL && *why != '\0');
		return;
	}
	if (n == PUBFRAME_MORE)
		return;
	CHECK(n > 0 && (size_t)n <= size);
	CHECK(a.result >= 0 && a.result <= 2);
	CHECK(printable(a.id) && strlen(a.id) <= PUBFRAME_ID_MAX);
	CHECK(strlen(a.why) <= PUBFRAME_WHY_MAX);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *in = (uint8_t *)fuzz_dup(data, size);

	request(in, size);
	answer(in, size);
	free(in);
	return 0;
}
