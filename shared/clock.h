/* SPDX-License-Identifier: ISC */
/*
 * clock.h - the two clocks of boxoffice.  Durations, deadlines and timeouts
 * use the monotonic clock (it never jumps when the wall clock is set);
 * the wall clock is for what is shown or stored (ticket timestamps, UUIDv7
 * ids, log lines, consumer lag).
 */
#ifndef BOX_CLOCK_H
#define BOX_CLOCK_H

/* Milliseconds / microseconds of CLOCK_MONOTONIC (arbitrary origin). */
long long	mono_ms(void);
long long	mono_us(void);
/* Milliseconds since the Unix epoch (CLOCK_REALTIME). */
long long	wall_ms(void);

#endif
