/* SPDX-License-Identifier: ISC */
/*
 * backoff.h - exponential backoff with full jitter (the AWS Architecture
 * Blog's "full jitter"): attempt n waits a uniformly random time in
 * [0, min(cap, base * 2^n)].  The arithmetic is pure (the random number is
 * an argument) so that its bounds can be unit-tested; backoff_rand() gives
 * a thread-safe random number for real use.
 */
#ifndef BOX_BACKOFF_H
#define BOX_BACKOFF_H

#include <stdint.h>

#define BACKOFF_BASE_MS	50	/* ceiling of the first attempt */

/* The ceiling of attempt n (0-based): min(cap_ms, base_ms * 2^n), at least
 * 1.  Never overflows, whatever n. */
long	backoff_ceiling(unsigned attempt, long base_ms, long cap_ms);
/* The delay of attempt n for the random number rnd: rnd mod (ceiling + 1),
 * so always in [0, backoff_ceiling(n, base_ms, cap_ms)]. */
long	backoff_ms(unsigned attempt, long base_ms, long cap_ms, uint64_t rnd);
/* A random 64-bit number (getrandom(2), else a per-thread xorshift). */
uint64_t backoff_rand(void);

#endif
