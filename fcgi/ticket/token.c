/* SPDX-License-Identifier: ISC */
/*
 * token.c - cancel tokens and their hashes (see token.h).
 */
#include <string.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "ticket.h"
#include "token.h"

/* 16 bytes as 22 characters of URL-safe base64 without padding. */
void
token_from(const unsigned char b[TOKEN_RANDOM], char out[TOKEN_LEN + 1])
{
	static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "abcdefghijklmnopqrstuvwxyz0123456789-_";
	unsigned	acc = 0;
	int		bits = 0, i, o = 0;

	for (i = 0; i < 16; i++) {
		acc = (acc << 8) | b[i];
		bits += 8;
		while (bits >= 6) {
			bits -= 6;
			out[o++] = b64[(acc >> bits) & 63];
		}
	}
	out[o++] = b64[(acc << (6 - bits)) & 63];	/* the last 2 bits */
	out[o] = '\0';
}

int
token_new(char out[TOKEN_LEN + 1])
{
	unsigned char	b[TOKEN_RANDOM];

	if (ticket_random(b, sizeof(b)) != 0)
		return -1;
	token_from(b, out);
	return 0;
}

/* SHA-256, fetched once per process */
static EVP_MD *
sha256(void)
{
	static EVP_MD	*md;

	if (md == NULL)
		md = EVP_MD_fetch(NULL, "SHA2-256", NULL);
	return md;
}

EVP_MD_CTX *
token_sha256(void)
{
	static EVP_MD_CTX	*ctx;

	if ((ctx == NULL && (ctx = EVP_MD_CTX_new()) == NULL) ||
	    sha256() == NULL || EVP_DigestInit_ex2(ctx, sha256(), NULL) != 1)
		return NULL;
	return ctx;
}

int
token_for(const char *secret, const char *order_id, char out[TOKEN_LEN + 1])
{
	unsigned char	md[EVP_MAX_MD_SIZE];
	unsigned	len = 0;

	if (sha256() == NULL || HMAC(sha256(), secret, (int)strlen(secret),
	    (const unsigned char *)order_id, strlen(order_id), md, &len) ==
	    NULL || len < 16)
		return -1;
	token_from(md, out);
	return 0;
}

/* The 32 bytes of md as lowercase hex. */
static void
hex32(const unsigned char md[32], char out[TOKEN_HASH_LEN + 1])
{
	unsigned i;

	for (i = 0; i < 32; i++) {
		out[2 * i] = "0123456789abcdef"[md[i] >> 4];
		out[2 * i + 1] = "0123456789abcdef"[md[i] & 15];
	}
	out[TOKEN_HASH_LEN] = '\0';
}

int
token_hash(const char *s, char out[TOKEN_HASH_LEN + 1])
{
	unsigned char	md[EVP_MAX_MD_SIZE];
	unsigned	len = 0;
	EVP_MD_CTX	*ctx;

	if ((ctx = token_sha256()) == NULL ||
	    EVP_DigestUpdate(ctx, s, strlen(s)) != 1 ||
	    EVP_DigestFinal_ex(ctx, md, &len) != 1 || len != 32)
		return -1;
	hex32(md, out);
	return 0;
}

int
token_key_hash(const char *secret, const char *key,
    char out[TOKEN_HASH_LEN + 1])
{
	unsigned char	md[EVP_MAX_MD_SIZE], in[5 + 64];
	unsigned	len = 0;
	size_t		n = strlen(key);

	/* "idem:" keeps it apart from token_for()'s HMAC of an order id
	 * (a client may choose a key that spells one) */
	if (n > sizeof(in) - 5 || sha256() == NULL)
		return -1;
	memcpy(in, "idem:", 5);
	memcpy(in + 5, key, n);
	if (HMAC(sha256(), secret, (int)strlen(secret), in, 5 + n, md,
	    &len) == NULL || len != 32)
		return -1;
	hex32(md, out);
	return 0;
}
