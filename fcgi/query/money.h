/* SPDX-License-Identifier: ISC */
/*
 * money.h - exact currency amounts: decimal text with 2 decimals (as MySQL
 * DECIMAL(10,2) and our JSON carry them) <-> integer cents.  Never a double.
 * Pure functions; unit-tested.
 */
#ifndef BOX_MONEY_H
#define BOX_MONEY_H

#include <stddef.h>

#define MONEY_TEXT_MAX	24	/* "9999999999999999.99" and NUL, with room */
#define MONEY_CENTS_MAX	999999999999999999LL	/* 18 digits */

/* Parses "D+" or "D+.D" or "D+.DD" (no sign, 1..16 integer digits) into
 * cents.  Returns 0, or -1 if malformed or too large. */
int	money_parse(const char *s, long long *cents);
/* Writes cents (>= 0) as "D+.DD" into buf; returns the length or -1. */
int	money_format(long long cents, char *buf, size_t size);
/* Rewrites a decimal text in canonical 2-decimal form ("0" -> "0.00").
 * Returns the length, or -1 if s is not an amount money_parse() takes. */
int	money_canon(const char *s, char *buf, size_t size);

#endif
