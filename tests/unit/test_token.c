/* SPDX-License-Identifier: ISC */
/*
 * test_token.c - unit tests of fcgi/ticket/token.c: cancel tokens and hold
 * ids (22 characters of base64url), the token of a keyed order
 * (HMAC-SHA256, known answers) and the stored hash (SHA-256 in hex).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "token.h"

#define B64URL	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz" \
		"0123456789-_"

static void
test_new(void **state)
{
	char	a[TOKEN_LEN + 1], b[TOKEN_LEN + 1];

	(void)state;
	assert_int_equal(token_new(a), 0);
	assert_int_equal(token_new(b), 0);
	assert_int_equal(strlen(a), TOKEN_LEN);
	assert_int_equal(strspn(a, B64URL), TOKEN_LEN);
	assert_string_not_equal(a, b);
}

/* token_from: URL-safe base64 of the 16 bytes, no padding. */
static void
test_from_bytes(void **state)
{
	unsigned char	b[TOKEN_RANDOM];
	char		t[TOKEN_LEN + 1];
	int		i;

	(void)state;
	for (i = 0; i < TOKEN_RANDOM; i++)
		b[i] = (unsigned char)i;
	token_from(b, t);
	assert_string_equal(t, "AAECAwQFBgcICQoLDA0ODw");
	for (i = 0; i < TOKEN_RANDOM; i++)
		b[i] = (unsigned char)(240 + i);
	token_from(b, t);
	assert_string_equal(t, "8PHy8_T19vf4-fr7_P3-_w");
}

static void
test_for(void **state)
{
	static const struct {
		const char	*secret, *id, *want;
	} cases[] = {
		/* the first 128 bits of RFC 4231-style HMAC-SHA256 */
		{ "key", "The quick brown fox jumps over the lazy dog",
		    "97yD9DBThCSxMpjmqm-xQw" },
	};
	char	out[TOKEN_LEN + 1], again[TOKEN_LEN + 1];
	size_t	i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_int_equal(token_for(cases[i].secret, cases[i].id, out),
		    0);
		assert_string_equal(out, cases[i].want);
	}
	/* the same order, the same token; another secret, another one */
	assert_int_equal(token_for("s", "order", out), 0);
	assert_int_equal(token_for("s", "order", again), 0);
	assert_string_equal(out, again);
	assert_int_equal(token_for("t", "order", again), 0);
	assert_string_not_equal(out, again);
}

static void
test_hash(void **state)
{
	static const struct {
		const char	*in, *want;
	} cases[] = {
		{ "abc", "ba7816bf8f01cfea414140de5dae2223"
		    "b00361a396177a9cb410ff61f20015ad" },
		{ "", "e3b0c44298fc1c149afbf4c8996fb924"
		    "27ae41e4649b934ca495991b7852b855" },
	};
	char	out[TOKEN_HASH_LEN + 1];
	size_t	i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_int_equal(token_hash(cases[i].in, out), 0);
		assert_string_equal(out, cases[i].want);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_new),
		cmocka_unit_test(test_from_bytes),
		cmocka_unit_test(test_for),
		cmocka_unit_test(test_hash),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
