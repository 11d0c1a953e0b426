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
#include <stdlib.h>
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

/* An Idempotency-Key's name in MySQL: HMAC-SHA256(secret, "idem:" key),
 * hex (Python's hmac computed the value); never token_for()'s bits of
 * the same text; a key longer than 64 is refused. */
static void
test_key_hash(void **state)
{
	char	out[TOKEN_HASH_LEN + 1], again[TOKEN_HASH_LEN + 1];
	char	tok[TOKEN_LEN + 1], key[66];
	unsigned char md[TOKEN_RANDOM];
	size_t	i;

	(void)state;
	assert_int_equal(token_key_hash("key", "The_quick-brown", out), 0);
	assert_string_equal(out, "742ae8326c3d8a9a6060ce518771e76f0ad483f665d58e4f19fc76140b705027");
	assert_int_equal(token_key_hash("other", "The_quick-brown", again), 0);
	assert_string_not_equal(out, again);
	/* a key that spells an order id does not give away that order's
	 * token (token_for: the first 128 bits of HMAC(secret, id)) */
	assert_int_equal(token_key_hash("key", "The_quick-brown", out), 0);
	for (i = 0; i < TOKEN_RANDOM; i++)
		md[i] = (unsigned char)strtoul((char[]){ out[2 * i],
		    out[2 * i + 1], '\0' }, NULL, 16);
	token_from(md, again);
	assert_int_equal(token_for("key", "The_quick-brown", tok), 0);
	assert_string_not_equal(again, tok);
	memset(key, 'k', 64);
	key[64] = '\0';
	assert_int_equal(token_key_hash("key", key, out), 0);
	key[64] = 'k';
	key[65] = '\0';
	assert_int_equal(token_key_hash("key", key, out), -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_new),
		cmocka_unit_test(test_from_bytes),
		cmocka_unit_test(test_for),
		cmocka_unit_test(test_hash),
		cmocka_unit_test(test_key_hash),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
