/* SPDX-License-Identifier: ISC */
/*
 * fmt.h - formatting into fixed buffers where a message may not fit.
 */
#ifndef BOX_FMT_H
#define BOX_FMT_H

#include <stdarg.h>
#include <stddef.h>

/*
 * snprintf into buf (size bytes, size >= 4).  A message that does not fit
 * is cut and ends in "...", so that a reader sees it was cut.  Returns 0
 * if it fit, -1 if it was cut (or the format failed: buf is then "").
 */
int	fmt_trunc(char *buf, size_t size, const char *fmt, ...)
	    __attribute__((format(printf, 3, 4)));
/* The same with a va_list. */
int	fmt_vtrunc(char *buf, size_t size, const char *fmt, va_list ap)
	    __attribute__((format(printf, 3, 0)));

/*
 * Appends to the text of buf (size bytes) at *off with snprintf and moves
 * *off past it.  Returns 0, or -1 if it did not fit (then *off is kept
 * and the text must not be used: it is for building whole statements).
 */
int	fmt_add(char *buf, size_t size, size_t *off, const char *fmt, ...)
	    __attribute__((format(printf, 4, 5)));

#endif
