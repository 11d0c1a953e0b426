/* SPDX-License-Identifier: ISC */
/*
 * hostlist.h - a list of servers in one setting, "host[:port],host[:port]"
 * (amqp_hosts), and one such entry.  A parser only: no I/O, no name lookup.
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
/* One entry as above, "host[:port]" or "[v6][:port]" (no blanks around
 * it), into out; default_port 0: the port must be given.  Returns 0, or
 * -1 with err set.  Also the parser of redis_nodes and of the addresses
 * a Redis Cluster names (shared/rds.c, shared/rcluster.c). */
int	hostport_parse(const char *s, int default_port, struct hostport *out,
	    char *err, size_t errlen);

#endif
