/* SPDX-License-Identifier: ISC */
/*
 * token.h - the unguessable ids of orders: cancel tokens (and the first
 * 22 characters of hold ids, purchase.h), 128 random bits as URL-safe base64 without padding, and the SHA-256 hex
 * that is all the stores keep of a cancel token.
 */
#ifndef BOX_TOKEN_H
#define BOX_TOKEN_H

#include "purchase.h"

#define TOKEN_HASH_LEN	64

#define TOKEN_RANDOM	16	/* random bytes of a token */

/* Writes a new token (TOKEN_LEN chars) into out.  Returns 0, or -1 if no
 * randomness was available. */
int	token_new(char out[TOKEN_LEN + 1]);
/* The same from random bytes the caller drew (ticket_random). */
void	token_from(const unsigned char rnd[TOKEN_RANDOM],
	    char out[TOKEN_LEN + 1]);
/* Writes the token of an order of a keyed request: the first 128 bits of
 * HMAC-SHA256(secret, order_id), encoded as token_new() does.  Returns 0
 * or -1. */
int	token_for(const char *secret, const char *order_id,
	    char out[TOKEN_LEN + 1]);
/* Writes the name MySQL and a rebuilt record know an Idempotency-Key by
 * (1-64 chars): the lowercase hex HMAC-SHA256(secret, "idem:" key).  Keyed
 * with the secret, so that a reader of MySQL cannot try guessable keys
 * against it.  Returns 0 or -1 (key too long, libcrypto failed). */
int	token_key_hash(const char *secret, const char *key,
	    char out[TOKEN_HASH_LEN + 1]);
/* Writes the lowercase hex SHA-256 of the NUL-terminated s into out.
 * Returns 0 or -1 (libcrypto failed). */
int	token_hash(const char *s, char out[TOKEN_HASH_LEN + 1]);
/* The process's SHA-256 digest context, initialised for a new digest
 * (EVP_DigestUpdate, then EVP_DigestFinal_ex), or NULL if libcrypto
 * failed.  The algorithm is fetched once: an EVP_sha256() per call makes
 * OpenSSL 3 look it up again each time (7 % of a responder's CPU). */
struct evp_md_ctx_st *token_sha256(void);

#endif
