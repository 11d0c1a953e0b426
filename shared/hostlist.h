/* SPDX-License-Identifier: ISC */
/*
 * hostlist.h - a list of servers in one setting, "host[:port],host[:port]"
 * (amqp_hosts).  A parser only: no I/O, no name lookup.
 */
#ifndef BOX_HOSTLIST_H
#define BOX_HOSTLIST_H

#include <stddef.h>

struct hostport {
	char	host[256];
	int	port;
};

/* Parses list into at most max entries: blanks around entries and empty
 * entries are ignored, the port is default_port when left out, and the
 * last ':' separates it; an IPv6 address goes in brackets, "[::1]" or
 * "[::1]:5672" (unbracketed it needs its port: "::1:5672").  Returns
 * the number of entries (0 for an empty list), or -1 with err set. */
int	hostlist_parse(const char *list, int default_port, struct hostport *out,
	    int max, char *err, size_t errlen);

#endif
