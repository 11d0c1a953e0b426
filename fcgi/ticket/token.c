/* SPDX-License-Identifier: ISC */
/*
 * token.c - cancel tokens and their hashes (see token.h).
 */
#include <string.h>
#include <sys/random.h>

#include <openssl/evp.h>

#include "token.h"

int
token_new(char out[TOKEN_LEN + 1])
{
	static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "abcdefghijklmnopqrstuvwxyz0123456789-_";
	unsigned char	b[16];
	size_t		got = 0;
	ssize_t		n;
	unsigned	acc = 0;
	int		bits = 0, i, o = 0;

	while (got < sizeof(b)) {
		if ((n = getrandom(b + got, sizeof(b) - got, 0)) <= 0)
			return -1;
		got += (size_t)n;
	}
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
	return 0;
}

int
token_hash(const char *s, char out[TOKEN_HASH_LEN + 1])
{
	unsigned char	md[EVP_MAX_MD_SIZE];
	unsigned	len = 0, i;

	if (EVP_Digest(s, strlen(s), md, &len, EVP_sha256(), NULL) != 1 ||
	    len != 32)
		return -1;
	for (i = 0; i < len; i++) {
		out[2 * i] = "0123456789abcdef"[md[i] >> 4];
		out[2 * i + 1] = "0123456789abcdef"[md[i] & 15];
	}
	out[2 * len] = '\0';
	return 0;
}
