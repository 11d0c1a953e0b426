/* SPDX-License-Identifier: ISC */
/*
 * hostlist.c - "host[:port],..." lists of the settings (see hostlist.h).
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "hostlist.h"
#include "valid.h"

int
hostlist_parse(const char *list, int default_port, struct hostport *out,
    int max, char *err, size_t errlen)
{
	const char	*p = list, *e, *colon;
	char		 item[300];
	size_t		 len;
	long		 port;
	int		 n = 0;

	while (*p != '\0') {
		while (*p == ',' || isspace((unsigned char)*p))
			p++;
		if (*p == '\0')
			break;
		for (e = p; *e != '\0' && *e != ','; e++)
			;
		len = (size_t)(e - p);
		while (len > 0 && isspace((unsigned char)p[len - 1]))
			len--;
		if (len >= sizeof(item)) {
			snprintf(err, errlen, "node '%.40s...' too long", p);
			return -1;
		}
		memcpy(item, p, len);
		item[len] = '\0';
		p = e;
		if (n == max) {
			snprintf(err, errlen, "more than %d nodes", max);
			return -1;
		}
		port = default_port;
		if ((colon = strrchr(item, ':')) != NULL) {
			if (valid_long(colon + 1, 1, 65535, &port) != 0) {
				snprintf(err, errlen, "node '%s': port is not "
				    "in 1..65535", item);
				return -1;
			}
			item[colon - item] = '\0';
		}
		if (item[0] == '\0' || strpbrk(item, " \t") != NULL ||
		    strlen(item) >= sizeof(out[n].host)) {
			snprintf(err, errlen, "node '%s': bad host", item);
			return -1;
		}
		memcpy(out[n].host, item, strlen(item) + 1);
		out[n].port = (int)port;
		n++;
	}
	return n;
}
