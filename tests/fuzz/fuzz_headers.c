/* SPDX-License-Identifier: ISC */
/*
 * fuzz_headers.c - libFuzzer harness for the checks the purchase responder
 * makes of a request's headers before it reads the body (fcgi/ticket/
 * main.c): Content-Type (http_content_type_is()), Content-Length
 * (valid_digits()) and Idempotency-Key (valid_id_n()).  The input is the
 * header's value as the web server passes it on (a FastCGI parameter, a
 * NUL-terminated string).  Each answer is checked against what the
 * function promises, spelled out here byte by byte.
 */
#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "fuzz.h"
#include "http.h"
#include "valid.h"

static int
blank(char c)
{
	return c == ' ' || c == '\t';
}

/* http.h: the media type after optional blanks, any case, then optional
 * blanks and the end or a ';' (its parameters) */
static int
names_media(const char *v, const char *media)
{
	size_t n = strlen(media);

	while (blank(*v))
		v++;
	if (strlen(v) < n || strncasecmp(v, media, n) != 0)
		return 0;
	for (v += n; blank(*v); v++)
		;
	return *v == '\0' || *v == ';';
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const media[] = {
		"application/json", "application/x-www-form-urlencoded"
	};
	char	*v, *id;
	size_t	 len, i;
	long	 n;
	int	 ok, want;

	v = fuzz_dup_str(data, size);
	len = strlen(v);	/* a parameter ends at its first NUL */
	for (i = 0; i < sizeof(media) / sizeof(media[0]); i++)
		CHECK(http_content_type_is(v, media[i]) ==
		    names_media(v, media[i]));

	ok = valid_digits(v, &n) == 0;
	want = len >= 1 && len <= 18;
	for (i = 0; want && i < len; i++)
		want = isdigit((unsigned char)v[i]) != 0;
	CHECK(ok == want);
	if (ok)
		CHECK(n >= 0 && n == strtol(v, NULL, 10));

	/* the key's bytes without a NUL after them: a read past its end
	 * shows */
	id = fuzz_dup(data, len);
	want = len >= 1 && len <= ID_MAX;
	for (i = 0; want && i < len; i++)
		want = isalnum((unsigned char)id[i]) != 0 || id[i] == '_' ||
		    id[i] == '-';
	CHECK(valid_id_n(id, len) == want);
	free(id);
	free(v);
	return 0;
}
