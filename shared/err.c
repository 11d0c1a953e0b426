/* SPDX-License-Identifier: ISC */
/*
 * err.c - the error fields of connection objects (see err.h).
 */
#include <stdarg.h>

#include "err.h"
#include "fmt.h"

const char *
err_kind_str(int kind)
{
	switch (kind) {
	case ERR_NONE:
		return "none";
	case ERR_IO:
		return "io";
	case ERR_SERVER:
		return "server";
	case ERR_OTHER:
		return "other";
	}
	return "?";
}

void
err_set(int *err, char errstr[ERRSTR_MAX], enum err_kind kind,
    const char *fmt, ...)
{
	va_list ap;

	*err = kind;
	va_start(ap, fmt);
	fmt_vtrunc(errstr, ERRSTR_MAX, fmt, ap);
	va_end(ap);
}
