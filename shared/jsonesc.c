/* SPDX-License-Identifier: ISC */
/*
 * jsonesc.c - a string as the inside of a JSON string literal, for the
 * places that write JSON by hand (error bodies, ticketctl's documents).
 */
#include <stdio.h>
#include <string.h>

#include "jsonesc.h"

int
json_escape(const char *s, char *buf, size_t size)
{
	size_t		o = 0;
	unsigned char	c;
	char		esc[8];
	size_t		n;

	if (size == 0)
		return -1;
	for (; *s != '\0'; s++) {
		c = (unsigned char)*s;
		if (c == '"' || c == '\\') {
			esc[0] = '\\';
			esc[1] = (char)c;
			n = 2;
		} else if (c < 0x20) {
			n = (size_t)snprintf(esc, sizeof(esc), "\\u%04x", c);
		} else {
			esc[0] = (char)c;
			n = 1;
		}
		if (n >= size - o)
			return -1;
		memcpy(buf + o, esc, n);
		o += n;
	}
	buf[o] = '\0';
	return (int)o;
}
