/* SPDX-License-Identifier: ISC */
/*
 * fuzz_form.c - libFuzzer harness for the legacy parameters of POST /ticket:
 * purchase_from_form() and form_get().  The input is split at its first
 * '\n': the query string before it, the urlencoded body after it (no '\n':
 * a query and no body).  Each part gets a buffer of its own exact size so
 * that reading past a length is caught.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "purchase.h"
#include "valid.h"

/* form_get with several output sizes; checks what it promises. */
static void
lookups(const char *s, size_t len)
{
	static const char *const names[] = {
		"venueId", "eventId", "zoneId", "row", "column", "", "a"
	};
	static const size_t sizes[] = { 0, 1, 2, 8, FORM_VALUE_MAX };
	char	*out;
	size_t	 i, k;
	int	 r;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		for (k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++) {
			/* exact-size output buffer (ASan: malloc(0) has no
			 * usable byte) */
			out = malloc(sizes[k]);
			CHECK(out != NULL || sizes[k] == 0);
			r = form_get(s, len, names[i], out, sizes[k]);
			CHECK(r >= -1 && r <= 1);
			if (r == 1)
				CHECK(sizes[k] > 0 &&
				    strnlen(out, sizes[k]) < sizes[k]);
			free(out);
		}
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t		*nl = memchr(data, '\n', size);
	size_t			 qlen = nl != NULL ? (size_t)(nl - data) : size;
	size_t			 blen = nl != NULL ? size - qlen - 1 : 0;
	char			*q, *b;
	const char		*why = NULL;
	struct purchase		 p;
	enum purchase_err	 e;

	q = fuzz_dup(data, qlen);
	b = nl != NULL ? fuzz_dup(nl + 1, blen) : NULL;
	e = purchase_from_form(q, qlen, b, blen, &p, &why);
	if (e != PURCHASE_OK)
		CHECK(why != NULL && *why != '\0');
	if (e == PURCHASE_OK || e == PURCHASE_INVALID_SEAT) {
		CHECK(valid_id(p.venue) && valid_id(p.event));
		CHECK(p.zone >= 1 && p.zone <= SEAT_MAX);
	}
	if (e == PURCHASE_OK) {
		CHECK(p.row >= 1 && p.row <= SEAT_MAX);
		CHECK(p.col >= 1 && p.col <= SEAT_MAX);
	}
	lookups(q, qlen);
	if (b != NULL)
		lookups(b, blen);
	/* NULL strings are "no parameters" */
	(void)purchase_from_form(NULL, 0, b, blen, &p, &why);
	(void)purchase_from_form(q, qlen, NULL, 0, &p, &why);
	free(q);
	free(b);
	return 0;
}
