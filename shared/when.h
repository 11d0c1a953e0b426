/* SPDX-License-Identifier: ISC */
/*
 * when.h - instants and durations of the catalog's sale windows: RFC 3339
 * timestamps to and from milliseconds since the epoch, and durations like
 * "90s", "5m", "1h".  Pure functions (no I/O), unit-tested and fuzzed with
 * the catalog document.
 */
#ifndef BOX_WHEN_H
#define BOX_WHEN_H

#include <stddef.h>

/* "2027-01-15T19:00:00Z", or with ".123" milliseconds, and its NUL */
#define WHEN_LEN	24
/* Instants accepted: years 1970 .. 9999 */
#define WHEN_MS_MAX	253402300799999LL

/* Parses an RFC 3339 timestamp ("YYYY-MM-DDTHH:MM:SS[.fff]" then "Z" or
 * "+hh:mm"/"-hh:mm"; T and Z in either case; at most 3 fraction digits)
 * into ms.  Returns 0, or -1 if s is not one or is out of range. */
int	when_parse(const char *s, long long *ms);
/* Writes ms as UTC "YYYY-MM-DDTHH:MM:SSZ", with ".fff" only when ms has a
 * fraction.  out has WHEN_LEN + 1 bytes. */
void	when_format(long long ms, char out[WHEN_LEN + 1]);
/* Parses a duration "N" followed by s, m or h (1 s .. 30 days) into ms.
 * Returns 0 or -1. */
int	when_duration(const char *s, long long *ms);

#endif
