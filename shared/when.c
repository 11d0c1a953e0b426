/* SPDX-License-Identifier: ISC */
/*
 * when.c - RFC 3339 instants and durations (see when.h).
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "when.h"

/* Reads exactly n decimal digits at s; returns the value or -1. */
static long
digits(const char *s, int n)
{
	long	v = 0;
	int	i;

	for (i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	return v;
}

/* Days from 1970-01-01 to y-m-d of the proleptic Gregorian calendar
 * (H. Hinnant's days_from_civil). */
static long long
days_from_civil(long y, long m, long d)
{
	long long	era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

static int
month_days(long y, long m)
{
	static const int days[12] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31,
	    30, 31 };

	if (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
		return 29;
	return days[m - 1];
}

int
when_parse(const char *s, long long *ms)
{
	long		y, mo, d, h, mi, sec, frac = 0, oh, om;
	long long	v;
	int		nfrac = 0, sign;

	if (strlen(s) < 20)
		return -1;
	if ((y = digits(s, 4)) < 1970 || s[4] != '-' ||
	    (mo = digits(s + 5, 2)) < 1 || mo > 12 || s[7] != '-' ||
	    (d = digits(s + 8, 2)) < 1 || d > month_days(y, mo) ||
	    (s[10] != 'T' && s[10] != 't') ||
	    (h = digits(s + 11, 2)) < 0 || h > 23 || s[13] != ':' ||
	    (mi = digits(s + 14, 2)) < 0 || mi > 59 || s[16] != ':' ||
	    (sec = digits(s + 17, 2)) < 0 || sec > 59)
		return -1;
	s += 19;
	if (*s == '.') {
		for (s++; *s >= '0' && *s <= '9'; s++, nfrac++) {
			if (nfrac == 3)
				return -1;
			frac = frac * 10 + (*s - '0');
		}
		if (nfrac == 0)
			return -1;
		for (; nfrac < 3; nfrac++)
			frac *= 10;
	}
	v = ((days_from_civil(y, mo, d) * 24 + h) * 60 + mi) * 60 + sec;
	if ((*s == 'Z' || *s == 'z') && s[1] == '\0') {
		/* UTC */
	} else if ((*s == '+' || *s == '-') && strlen(s) == 6 &&
	    (oh = digits(s + 1, 2)) >= 0 && oh <= 23 && s[3] == ':' &&
	    (om = digits(s + 4, 2)) >= 0 && om <= 59) {
		sign = *s == '+' ? 1 : -1;
		v -= sign * (oh * 3600 + om * 60);
	} else
		return -1;
	v = v * 1000 + frac;
	if (v < 0 || v > WHEN_MS_MAX)
		return -1;
	*ms = v;
	return 0;
}

void
when_format(long long ms, char out[WHEN_LEN + 1])
{
	time_t		secs = (time_t)(ms / 1000);
	struct tm	tm;

	if (ms < 0 || ms > WHEN_MS_MAX)
		secs = 0, ms = 0;
	gmtime_r(&secs, &tm);
	/* years 0000-9999 (WHEN_MS_MAX): 19 characters, then the rest */
	if (strftime(out, WHEN_LEN + 1, "%Y-%m-%dT%H:%M:%S", &tm) != 19)
		out[0] = '\0';
	else if (ms % 1000 == 0)
		memcpy(out + 19, "Z", 2);
	else
		snprintf(out + 19, WHEN_LEN + 1 - 19, ".%03dZ",
		    (int)(ms % 1000));
}

int
when_duration(const char *s, long long *ms)
{
	long long	n = 0, unit;
	const char	*p;

	for (p = s; *p >= '0' && *p <= '9'; p++) {
		n = n * 10 + (*p - '0');
		if (n > 30LL * 24 * 3600)
			return -1;
	}
	if (p == s || *p == '\0' || p[1] != '\0')
		return -1;
	switch (*p) {
	case 's':
		unit = 1000;
		break;
	case 'm':
		unit = 60 * 1000;
		break;
	case 'h':
		unit = 3600 * 1000;
		break;
	default:
		return -1;
	}
	n *= unit;
	if (n < 1000 || n > 30LL * 24 * 3600 * 1000)
		return -1;
	*ms = n;
	return 0;
}
