/* SPDX-License-Identifier: ISC */
/*
 * money.c - exact currency amounts (see money.h).
 */
#include <stdio.h>

#include "money.h"

int
money_parse(const char *s, long long *cents)
{
	long long	v = 0;
	int		n = 0, frac = 0;

	if (s == NULL)
		return -1;
	for (; *s >= '0' && *s <= '9'; s++, n++) {
		if (n == 16)
			return -1;
		v = v * 10 + (*s - '0');
	}
	if (n == 0)
		return -1;
	if (*s == '.') {
		for (s++; *s >= '0' && *s <= '9'; s++, frac++) {
			if (frac == 2)
				return -1;
			v = v * 10 + (*s - '0');
		}
		if (frac == 0)
			return -1;
	}
	if (*s != '\0')
		return -1;
	for (; frac < 2; frac++)
		v *= 10;
	*cents = v;
	return 0;
}

int
money_format(long long cents, char *buf, size_t size)
{
	int n;

	if (cents < 0 || cents > MONEY_CENTS_MAX)
		return -1;
	n = snprintf(buf, size, "%lld.%02lld", cents / 100, cents % 100);
	return n >= 0 && (size_t)n < size ? n : -1;
}

int
money_canon(const char *s, char *buf, size_t size)
{
	long long cents;

	if (money_parse(s, &cents) != 0)
		return -1;
	return money_format(cents, buf, size);
}
