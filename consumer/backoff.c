/* SPDX-License-Identifier: ISC */
/*
 * backoff.c - exponential backoff with full jitter (see backoff.h).
 */
#include <sys/random.h>
#include <time.h>

#include "backoff.h"

long
backoff_ceiling(unsigned attempt, long base_ms, long cap_ms)
{
	long c = base_ms > 0 ? base_ms : 1;

	if (cap_ms < 1)
		cap_ms = 1;
	while (attempt-- > 0 && c < cap_ms)
		c = c > cap_ms / 2 ? cap_ms : c * 2;
	return c < cap_ms ? c : cap_ms;
}

long
backoff_ms(unsigned attempt, long base_ms, long cap_ms, uint64_t rnd)
{
	long c = backoff_ceiling(attempt, base_ms, cap_ms);

	return (long)(rnd % ((uint64_t)c + 1));
}

uint64_t
backoff_rand(void)
{
	static __thread uint64_t s;
	struct timespec	 ts;
	uint64_t	 v;

	if (getrandom(&v, sizeof(v), GRND_NONBLOCK) == (ssize_t)sizeof(v))
		return v;
	if (s == 0) {
		clock_gettime(CLOCK_MONOTONIC, &ts);
		s = ((uint64_t)ts.tv_sec << 32) ^ (uint64_t)ts.tv_nsec ^
		    (uint64_t)(uintptr_t)&ts;
		if (s == 0)
			s = 0x9e3779b97f4a7c15ULL;
	}
	s ^= s << 13;
	s ^= s >> 7;
	s ^= s << 17;
	return s;
}
