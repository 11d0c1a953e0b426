/* SPDX-License-Identifier: ISC */
/*
 * db.c - MySQL / MariaDB connection and catalog reader (see db.h).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <errmsg.h>
#include <mysql.h>

#include "db.h"
#include "metrics.h"
#include "valid.h"

void
db_init(struct db *d, const struct conf *c, const char *user,
    const char *password)
{
	memset(d, 0, sizeof(*d));
	snprintf(d->host, sizeof(d->host), "%s", c->mysql_host);
	d->port = c->mysql_port;
	snprintf(d->socket, sizeof(d->socket), "%s", c->mysql_socket);
	snprintf(d->user, sizeof(d->user), "%s", user);
	snprintf(d->password, sizeof(d->password), "%s", password);
	snprintf(d->database, sizeof(d->database), "%s", c->mysql_database);
	d->timeout_ms = c->mysql_timeout_ms;
}

void
db_close(struct db *d)
{
	if (d->my != NULL) {
		mysql_close(d->my);
		d->my = NULL;
	}
}

MYSQL *
db_conn(struct db *d)
{
	unsigned int	secs = (unsigned)(d->timeout_ms + 999) / 1000;
	my_bool		off = 0;

	if (d->my != NULL)
		return d->my;
	if ((d->my = mysql_init(NULL)) == NULL) {
		err_set(&d->err, d->errstr, ERR_OTHER, "mysql: out of memory");
		return NULL;
	}
	mysql_options(d->my, MYSQL_OPT_CONNECT_TIMEOUT, &secs);
	mysql_options(d->my, MYSQL_OPT_READ_TIMEOUT, &secs);
	mysql_options(d->my, MYSQL_OPT_WRITE_TIMEOUT, &secs);
	mysql_options(d->my, MYSQL_OPT_RECONNECT, &off);
	mysql_options(d->my, MYSQL_SET_CHARSET_NAME, "utf8mb4");
	if (mysql_real_connect(d->my, d->socket[0] ? NULL : d->host, d->user,
	    d->password, d->database, (unsigned)d->port,
	    d->socket[0] ? d->socket : NULL, 0) == NULL) {
		err_set(&d->err, d->errstr, ERR_IO, "mysql %s@%s:%d: "
		    "connect: %s", d->user, d->socket[0] ? d->socket : d->host,
		    d->port, mysql_error(d->my));
		db_close(d);
		return NULL;
	}
	if (d->reconnects++ > 0)
		metrics_count(METRICS_MYSQL_RECONNECTS);
	return d->my;
}

int
db_fail(struct db *d, const char *what)
{
	unsigned int e;

	if (d->my == NULL)
		return -1;
	e = mysql_errno(d->my);
	/* client errors (2000..2999) mean the connection is unusable */
	err_set(&d->err, d->errstr, e >= 2000 && e < 3000 ? ERR_IO :
	    ERR_SERVER, "mysql: %s: %s (%u)", what, mysql_error(d->my), e);
	if (d->err == ERR_IO)
		db_close(d);
	return -1;
}

long long
db_exec(struct db *d, const char *sql)
{
	MYSQL *my;

	if ((my = db_conn(d)) == NULL)
		return -1;
	if (mysql_query(my, sql) != 0)
		return db_fail(d, "query");
	return (long long)mysql_affected_rows(my);
}

int
db_ping(struct db *d)
{
	MYSQL		*my;
	MYSQL_RES	*res;

	if ((my = db_conn(d)) == NULL)
		return -1;
	if (mysql_query(my, "SELECT 1") != 0)
		return db_fail(d, "ping");
	if ((res = mysql_store_result(my)) == NULL)
		return db_fail(d, "ping");
	mysql_free_result(res);
	return 0;
}

long
db_catalog_each(struct db *d, int (*fn)(const struct catalog_zone *, void *),
    void *arg)
{
	static const char sql[] =
	    "SELECT e.event_id, e.venue_id, z.zone_id, z.row_count, "
	    "z.col_count, z.price, e.status = 'CANCELLED', "
	    "TIMESTAMPDIFF(MICROSECOND, '1970-01-01', e.closes_at) DIV 1000, "
	    "(SELECT TIMESTAMPDIFF(MICROSECOND, '1970-01-01', o.opens_at) "
	    "DIV 1000 FROM event_onsale o WHERE o.event_id = e.event_id AND "
	    "z.zone_id BETWEEN o.from_zone AND o.to_zone LIMIT 1) "
	    "FROM event e JOIN zone z "
	    "ON z.venue_id = e.venue_id ORDER BY e.event_id, z.zone_id";
	struct catalog_zone	 cz;
	MYSQL			*my;
	MYSQL_RES		*res;
	MYSQL_ROW		 row;
	long			 n = 0;

	if ((my = db_conn(d)) == NULL)
		return -1;
	if (mysql_query(my, sql) != 0 || (res = mysql_store_result(my)) == NULL)
		return db_fail(d, "catalog");
	while ((row = mysql_fetch_row(res)) != NULL) {
		memset(&cz, 0, sizeof(cz));
		if (row[0] == NULL || row[1] == NULL || row[5] == NULL ||
		    !valid_id(row[0]) || !valid_id(row[1]) ||
		    valid_digits(row[2], &cz.zone) != 0 ||
		    valid_digits(row[3], &cz.rows) != 0 ||
		    valid_digits(row[4], &cz.cols) != 0 ||
		    strlen(row[5]) >= sizeof(cz.price)) {
			err_set(&d->err, d->errstr, ERR_OTHER, "catalog: bad "
			    "row for event %s", row[0] ? row[0] : "?");
			mysql_free_result(res);
			return -1;
		}
		snprintf(cz.event, sizeof(cz.event), "%s", row[0]);
		snprintf(cz.venue, sizeof(cz.venue), "%s", row[1]);
		snprintf(cz.price, sizeof(cz.price), "%s", row[5]);
		cz.cancelled = row[6] != NULL && strcmp(row[6], "1") == 0;
		cz.closes_ms = row[7] != NULL ? strtoll(row[7], NULL, 10) : -1;
		cz.opens_ms = row[8] != NULL ? strtoll(row[8], NULL, 10) : -1;
		n++;
		if (fn(&cz, arg) != 0)
			break;
	}
	mysql_free_result(res);
	return n;
}
