/* SPDX-License-Identifier: ISC */
/*
 * gtid.h - MariaDB GTID positions ("domain-server-seq", comma-separated,
 * one per replication domain, as @@gtid_binlog_pos and @@gtid_slave_pos
 * show them) and whether one position has reached another.  Pure
 * functions; unit-tested.
 */
#ifndef BOX_GTID_H
#define BOX_GTID_H

#define GTID_DOMAINS_MAX	16

struct gtid_pos {
	int			n;
	unsigned long		domain[GTID_DOMAINS_MAX];
	unsigned long long	seq[GTID_DOMAINS_MAX];
};

/* Parses s ("" is the empty position; spaces around entries allowed).
 * Returns 0, or -1 if malformed or over GTID_DOMAINS_MAX domains. */
int	gtid_parse(const char *s, struct gtid_pos *p);
/* 1 if have has applied everything of want: in each of want's domains a
 * sequence number at least want's (the server id is not compared: it
 * changes with a failover, the sequence goes on).  Else 0. */
int	gtid_reached(const struct gtid_pos *have, const struct gtid_pos *want);

#endif
