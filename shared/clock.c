/* SPDX-License-Identifier: ISC */
/*
 * clock.c - monotonic and wall clocks (see clock.h).
 */
#include <time.h>

#include "clock.h"

static long long
read_us(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (long long)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

long long
mono_ms(void)
{
	return read_us(CLOCK_MONOTONIC) / 1000;
}

long long
mono_us(void)
{
	return read_us(CLOCK_MONOTONIC);
}

long long
wall_ms(void)
{
	return read_us(CLOCK_REALTIME) / 1000;
}
