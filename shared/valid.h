/* SPDX-License-Identifier: ISC */
/*
 * valid.h - validators for untrusted text: identifiers, integers, row labels,
 * ticket ids.  Pure functions, no I/O, no allocation; unit-tested and fuzzed.
 */
#ifndef BOX_VALID_H
#define BOX_VALID_H

#include <stddef.h>

#define ID_MAX		64		/* venueId / eventId length cap */
#define UUID_LEN	36
#define SEAT_MAX	2147483647L	/* zoneId, row, column upper bound */

/* 1 if s matches ^[A-Za-z0-9_-]{1,64}$, else 0. */
int	valid_id(const char *s);
/* Same for a buffer of len bytes that need not be NUL-terminated. */
int	valid_id_n(const char *s, size_t len);
/* 1 if s is a canonical lowercase UUID (8-4-4-4-12 hex), else 0. */
int	valid_uuid(const char *s);

/* Parses a whole decimal integer (optional '-', digits, nothing else) into
 * *out if it lies in [min, max].  Returns 0, or -1 if malformed or out of range. */
int	valid_long(const char *s, long min, long max, long *out);

/* Parses a decimal number of 1..18 digits with no sign, no blanks.
 * Returns 0 with *out set, or -1 if malformed. */
int	valid_digits(const char *s, long *out);

/* Percent-decodes src[0..len) into dst (NUL-terminated); with plus_space a
 * '+' is a blank (forms).  Returns the decoded length, or -1 on a bad
 * escape, a decoded NUL byte, or when dst (size bytes) is too small. */
int	valid_pct_decode(const char *src, size_t len, char *dst, size_t size,
	    int plus_space);

enum valid_row {
	VALID_ROW_OK,
	VALID_ROW_MALFORMED,	/* empty, mixed, or not letters/digits */
	VALID_ROW_RANGE		/* well formed but too large (or zero) */
};

/* 1 if s[0..len) is exactly one JSON text of RFC 8259 (surrounding
 * whitespace allowed) in which every value lies at most depth_max levels
 * deep (the outermost value is level 1, as json-c counts), else 0.
 * Strict where json-c is lenient: single-quoted keys, raw control characters
 * in strings, leading zeros, "1.", Infinity/NaN, and UTF-8 that RFC 3629
 * forbids (overlong forms, encoded surrogates) are rejected; so is \u0000
 * in a member name (json-c would cut the name there: another member). */
int	valid_json(const char *s, size_t len, int depth_max);

/* A legacy row label: letters A=1 .. Z=26, AA=27, .. (case-insensitive),
 * or decimal digits.  *out is set when VALID_ROW_OK. */
enum valid_row valid_row_label(const char *s, long *out);

#endif
