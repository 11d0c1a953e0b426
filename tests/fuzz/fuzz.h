/* SPDX-License-Identifier: ISC */
/*
 * fuzz.h - what the libFuzzer harnesses share: the entry point, the property
 * check, copies of the input in buffers of exact size (so that ASan sees
 * a read past the end).
 */
#ifndef BOX_FUZZ_H
#define BOX_FUZZ_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

/* A property of the code under test that failed: the harness aborts. */
#define CHECK(c)	do { if (!(c)) { \
	fprintf(stderr, "property failed: %s (line %d)\n", #c, __LINE__); \
	abort(); } } while (0)

/* A copy of p[0..n) in a buffer of exactly n bytes (1 if n is 0), no NUL. */
static inline char *
fuzz_dup(const uint8_t *p, size_t n)
{
	char *d = malloc(n > 0 ? n : 1);

	CHECK(d != NULL);
	if (n > 0)
		memcpy(d, p, n);
	return d;
}

/* A NUL-terminated copy of p[0..n) in a buffer of exactly n + 1 bytes. */
static inline char *
fuzz_dup_str(const uint8_t *p, size_t n)
{
	char *d = malloc(n + 1);

	CHECK(d != NULL);
	if (n > 0)
		memcpy(d, p, n);
	d[n] = '\0';
	return d;
}

#endif
