/* SPDX-License-Identifier: ISC */
/*
 * gtid.c - MariaDB GTID positions (see gtid.h).
 */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "gtid.h"

/* One unsigned decimal number at *s (no sign, at least a digit), *s moved
 * past it.  Returns 0, or -1. */
static int
number(const char **s, unsigned long long max, unsigned long long *v)
{
	char	*end;

	if (!isdigit((unsigned char)**s))
		return -1;
	errno = 0;
	*v = strtoull(*s, &end, 10);
	if (errno != 0 || *v > max)
		return -1;
	*s = end;
	return 0;
}

int
gtid_parse(const char *s, struct gtid_pos *p)
{
	unsigned long long	d, server, seq;
	int			i;

	memset(p, 0, sizeof(*p));
	if (s == NULL)
		return -1;
	while (*s == ' ')
		s++;
	if (*s == '\0')
		return 0;
	for (;;) {
		if (p->n == GTID_DOMAINS_MAX ||
		    number(&s, 0xffffffffULL, &d) != 0 || *s++ != '-' ||
		    number(&s, 0xffffffffULL, &server) != 0 || *s++ != '-' ||
		    number(&s, ~0ULL, &seq) != 0)
			return -1;
		for (i = 0; i < p->n; i++)
			if (p->domain[i] == d)
				return -1;	/* one entry per domain */
		p->domain[p->n] = (unsigned long)d;
		p->seq[p->n++] = seq;
		while (*s == ' ')
			s++;
		if (*s == '\0')
			return 0;
		if (*s++ != ',')
			return -1;
		while (*s == ' ')
			s++;
	}
}

int
gtid_reached(const struct gtid_pos *have, const struct gtid_pos *want)
{
	int i, j;

	for (i = 0; i < want->n; i++) {
		for (j = 0; j < have->n; j++)
			if (have->domain[j] == want->domain[i])
				break;
		if (j == have->n || have->seq[j] < want->seq[i])
			return 0;
	}
	return 1;
}
