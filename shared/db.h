/* SPDX-License-Identifier: ISC */
/*
 * db.h - MySQL / MariaDB connection that reconnects by itself, and the
 * catalog reader shared by ticketctl and the query responder.
 *
 * struct db connects lazily; after a connection-level error (server gone,
 * lost, timeout) the handle is dropped and the next call reconnects.
 * Functions returning int give 0 on success, -1 with d->errstr set.
 */
#ifndef BOX_DB_H
#define BOX_DB_H

#include <mysql.h>

#include "conf.h"
#include "err.h"

struct db {
	MYSQL		*my;
	char		 host[CONF_STR_MAX];
	int		 port;
	char		 socket[CONF_STR_MAX];
	char		 user[64];
	char		 password[CONF_STR_MAX];
	char		 database[64];
	int		 timeout_ms;
	unsigned long	 reconnects;
	int		 err;		/* enum err_kind, err.h */
	char		 errstr[ERRSTR_MAX];
};

/* Copies the connection settings of c with the given account. */
void	db_init(struct db *d, const struct conf *c, const char *user,
	    const char *password);
/* The connected handle (connecting if needed), or NULL with errstr set. */
MYSQL	*db_conn(struct db *d);
/* Closes the connection. */
void	db_close(struct db *d);
/* Records the handle's last error in errstr and drops the connection if
 * the error was a connection-level one.  Returns -1 for convenience. */
int	db_fail(struct db *d, const char *what);
/* Runs a statement that returns no rows; returns affected rows or -1. */
long long db_exec(struct db *d, const char *sql);
/* Answers a trivial query; returns 0 or -1. */
int	db_ping(struct db *d);

/* One event zone of the catalog. */
struct catalog_zone {
	char	event[65];
	char	venue[65];
	long	zone;
	long	rows;
	long	cols;
	char	price[16];
	int	cancelled;	/* event status CANCELLED */
	long long opens_ms;	/* the zone's sale window, ms since the epoch, */
	long long closes_ms;	/* -1 when absent (no limit) */
};

/* Calls fn for every (event, zone) of the catalog, ordered by event and
 * zone; stops early if fn returns non-zero.  Returns the number of zones
 * visited, or -1 with errstr set. */
long	db_catalog_each(struct db *d, int (*fn)(const struct catalog_zone *,
	    void *), void *arg);

#endif
