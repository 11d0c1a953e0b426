/* SPDX-License-Identifier: ISC */
/*
 * jsonesc.h - JSON string escaping (no I/O, no libraries).
 */
#ifndef BOX_JSONESC_H
#define BOX_JSONESC_H

#include <stddef.h>

/*
 * Writes s escaped for the inside of a JSON string ('"', '\\' and control
 * characters; other bytes, UTF-8 included, pass) into buf of size bytes,
 * NUL-terminated; an escape is never cut in half.  Returns the length
 * written, or -1 if it does not fit.
 */
int	json_escape(const char *s, char *buf, size_t size);

#endif
