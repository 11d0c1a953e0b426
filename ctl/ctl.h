/* SPDX-License-Identifier: ISC */
/*
 * ctl.h - what the ticketctl commands share: the command table entry, the
 * connections (settings, Redis shards, and helpers that open the broker,
 * MySQL and DynamoDB clients), and the readers of sold seats from every
 * store (sold.c, zone.c).
 *
 * Exit status of every command: CTL_OK, CTL_FAIL (differences found, or a
 * store failed), CTL_USAGE (bad command line).
 */
#ifndef BOX_CTL_H
#define BOX_CTL_H

#include <stdio.h>

#include "conf.h"
#include "db.h"
#include "ddb.h"
#include "mq.h"
#include "rds.h"

#define CTL_OK		0
#define CTL_FAIL	1
#define CTL_USAGE	2

#define CTL_EVENTS_MAX	64	/* events named on one command line */

/* Set on a Redis node by init once every catalog zone of the node has
 * counters; gone with a loss of the node's data (FLUSHALL, an empty
 * restart) and removed by the fence of a node that stopped uncleanly
 * (scripts/stack).  Where it is, a zone the node has no trace of was never
 * loaded, so it cannot have sold anything. */
#define CTL_KEY_INTACT	"bo:intact"

struct ctl {
	struct conf	c;
	struct rds	rds;
};

struct command {
	const char	*name;
	int		(*fn)(struct ctl *, int, char **);
	const char	*usage;		/* "init", "check [--wait S] [EVENT...]" */
	const char	*summary;	/* one line for the command list */
	const char	*help;		/* the rest of `ticketctl CMD --help` */
};

extern const struct command cmd_init, cmd_reset, cmd_rebuild, cmd_check,
	    cmd_status, cmd_dlq, cmd_catalog, cmd_event;

/* Prints "usage: ticketctl <usage>" to stderr and returns CTL_USAGE. */
int	ctl_usage(const struct command *cmd);
/* Prints "ticketctl: <message>" to stderr. */
void	ctl_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* A broker connection without confirms (for declares, get, ack); returns 0
 * or -1 (printed). */
int	ctl_mq_open(struct ctl *ctl, struct mq *m, const char *name);
/* The consumer's MySQL account (SELECT on every table). */
void	ctl_db_open(struct ctl *ctl, struct db *d);

/* Events named on the command line (none: every event).  Returns 0, or
 * -1 (printed) if one is not a valid event id or there are too many. */
struct events {
	const char	*id[CTL_EVENTS_MAX];
	int		 n;
};
int	ctl_events(struct events *ev, int argc, char **argv);
/* 1 if event is selected by ev (every event when ev is empty). */
int	ctl_event_selected(const struct events *ev, const char *event);

/* Parses a whole number of seconds for an option; returns 0 or -1. */
int	ctl_seconds(const char *s, long max, long *out);

#endif
