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
hostport_parse(const char *s, int default_port, struct hostport *out,
    char *err, size_t errlen)
{
	char	 item[300], *host, *colon, *rb = NULL;
	long	 port = default_port;

	if (strlen(s) >= sizeof(item)) {
		snprintf(err, errlen, "node '%.40s...' too long", s);
		return -1;
	}
	memcpy(item, s, strlen(s) + 1);
	host = item;
	colon = strrchr(item, ':');
	if (item[0] == '[') {
		/* "[v6]" or "[v6]:port": the address's own colons are not
		 * the port's */
		if ((rb = strchr(item, ']')) == NULL) {
			snprintf(err, errlen, "node '%s': no ']' after the "
			    "address", s);
			return -1;
		}
		if (rb[1] != '\0' && rb[1] != ':') {
			snprintf(err, errlen, "node '%s': ':port' or nothing "
			    "must follow ']'", s);
			return -1;
		}
		colon = rb[1] == ':' ? rb + 1 : NULL;
		*rb = '\0';
		host = item + 1;
	}
	if (colon != NULL) {
		if (valid_long(colon + 1, 1, 65535, &port) != 0) {
			snprintf(err, errlen, "node '%s': port is not in "
			    "1..65535", s);
			return -1;
		}
		*colon = '\0';
	} else if (default_port <= 0) {
		snprintf(err, errlen, "node '%s': no port", s);
		return -1;
	}
	if (host[0] == '\0' || strpbrk(host, " \t[]") != NULL ||
	    strlen(host) >= sizeof(out->host)) {
		snprintf(err, errlen, "node '%s': bad host", s);
		return -1;
	}
	memcpy(out->host, host, strlen(host) + 1);
	out->port = (int)port;
	return 0;
}

int
hostlist_parse(const char *list, int default_port, struct hostport *out,
    int max, char *err, size_t errlen)
{
	const char	*p = list, *e;
	char		 item[300];
	size_t		 len;
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
		if (hostport_parse(item, default_port, &out[n], err,
		    errlen) != 0)
			return -1;
		n++;
	}
	return n;
}
