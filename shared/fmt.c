/* SPDX-License-Identifier: ISC */
/*
 * fmt.c - formatting into fixed buffers (see fmt.h).
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "fmt.h"

int
fmt_trunc(char *buf, size_t size, const char *fmt, ...)
{
	va_list	ap;
	int	rc;

	va_start(ap, fmt);
	rc = fmt_vtrunc(buf, size, fmt, ap);
	va_end(ap);
	return rc;
}

int
fmt_vtrunc(char *buf, size_t size, const char *fmt, va_list ap)
{
	int n;

	n = vsnprintf(buf, size, fmt, ap);
	if (n < 0) {
		buf[0] = '\0';
		return -1;
	}
	if ((size_t)n < size)
		return 0;
	if (size >= 4)
		memcpy(buf + size - 4, "...", 4);
	return -1;
}

int
fmt_add(char *buf, size_t size, size_t *off, const char *fmt, ...)
{
	va_list	ap;
	int	n;

	if (*off >= size)
		return -1;
	va_start(ap, fmt);
	n = vsnprintf(buf + *off, size - *off, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= size - *off)
		return -1;
	*off += (size_t)n;
	return 0;
}
