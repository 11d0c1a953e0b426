/* SPDX-License-Identifier: ISC */
/*
 * replica.c - the query responder's choice of MySQL server (see replica.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mysql.h>

#include "clock.h"
#include "log.h"
#include "metrics.h"
#include "replica.h"

void
replica_init(struct replica *r, const struct conf *c)
{
	memset(r, 0, sizeof(*r));
	dbq_init(&r->primary, c);
	r->configured = c->mysql_read_host[0] != '\0';
	r->max_lag_s = c->mysql_read_max_lag_s;
	r->lag_s = -1;
	r->word = "down";
	snprintf(r->state, sizeof(r->state), "%s", r->configured ?
	    "not looked at yet" : "none configured");
	if (!r->configured)
		return;
	dbq_init(&r->replica, c);
	snprintf(r->replica.db.host, sizeof(r->replica.db.host), "%s",
	    c->mysql_read_host);
	r->replica.db.port = c->mysql_read_port > 0 ? c->mysql_read_port :
	    c->mysql_port;
	r->replica.db.socket[0] = '\0';
}

void
replica_close(struct replica *r)
{
	dbq_close(&r->primary);
	if (r->configured)
		dbq_close(&r->replica);
}

/* The column of SHOW SLAVE STATUS called name, or -1. */
static int
column(MYSQL_RES *res, const char *name)
{
	MYSQL_FIELD	*f = mysql_fetch_fields(res);
	unsigned	 i, n = mysql_num_fields(res);

	for (i = 0; i < n; i++)
		if (strcmp(f[i].name, name) == 0)
			return (int)i;
	return -1;
}

/* The GTID position the one-column query sql answers on d into p.
 * Returns 0, or -1 with d->errstr. */
static int
gtid_of(struct db *d, const char *sql, struct gtid_pos *p)
{
	MYSQL		*my;
	MYSQL_RES	*res;
	MYSQL_ROW	 row;
	int		 rc = -1;

	if ((my = db_conn(d)) == NULL)
		return -1;
	if (mysql_query(my, sql) != 0 ||
	    (res = mysql_store_result(my)) == NULL)
		return db_fail(d, sql);
	if ((row = mysql_fetch_row(res)) != NULL && mysql_num_fields(res) == 1)
		rc = gtid_parse(row[0] != NULL ? row[0] : "", p);
	if (rc != 0)
		err_set(&d->err, d->errstr, ERR_SERVER, "mysql: %s: not a "
		    "GTID position: %.64s", sql, row != NULL && row[0] !=
		    NULL ? row[0] : "(none)");
	mysql_free_result(res);
	return rc;
}

/*
 * 1 if the replica has applied, within max_lag_s, what the primary had
 * written: each look reads the primary's position, then the replica's; a
 * position of the primary that the replica has not reached is kept as the
 * target with the time it was read, and a replica that has not reached
 * its target after max_lag_s is behind (r->state, r->lag_s set), whatever
 * Seconds_Behind_Master says.  With steady writes the replica reaches
 * each target at the next look and a newer one is taken.  A primary that
 * does not answer leaves the verdict to SHOW SLAVE STATUS (the replica is
 * then the one server to read), and is not asked again for
 * PRIMARY_RETRY_MS: its host gone, each try would hold the request that
 * made the look for mysql_timeout_ms.
 */
static int
caught_up(struct replica *r)
{
	struct gtid_pos	 primary, replica;
	long long	 now = mono_ms(), waited;

	if (now < r->primary_retry_ms)
		return 1;
	if (gtid_of(&r->primary.db, "SELECT @@gtid_binlog_pos", &primary) !=
	    0) {
		log_warnx("mysql primary: %s; the replica's state alone "
		    "decides for %d s", r->primary.db.errstr,
		    PRIMARY_RETRY_MS / 1000);
		r->primary_retry_ms = mono_ms() + PRIMARY_RETRY_MS;
		return 1;
	}
	r->primary_retry_ms = 0;
	if (gtid_of(&r->replica.db, "SELECT @@gtid_slave_pos", &replica) !=
	    0) {
		r->word = "down";
		snprintf(r->state, sizeof(r->state), "down: %s",
		    r->replica.db.errstr);
		return 0;
	}
	now = mono_ms();
	if (gtid_reached(&replica, &primary)) {
		r->target_ms = 0;
		return 1;
	}
	if (r->target_ms == 0 || gtid_reached(&replica, &r->target)) {
		r->target = primary;
		r->target_ms = now;
		return 1;
	}
	if ((waited = now - r->target_ms) <= r->max_lag_s * 1000LL)
		return 1;
	r->lag_s = waited / 1000;
	r->word = "behind";
	snprintf(r->state, sizeof(r->state), "has not applied in %lld s what "
	    "the primary had written (over mysql_read_max_lag_s %d; "
	    "Seconds_Behind_Master shows 0 while the link is silent)",
	    r->lag_s, r->max_lag_s);
	return 0;
}

/* Reads the replication state into r->lag_s and r->state; returns 1 if
 * the replica may be read (both threads run, lag within the bound, the
 * primary's writes applied within the bound: caught_up()). */
static int
look(struct replica *r)
{
	struct db	*d = &r->replica.db;
	MYSQL		*my;
	MYSQL_RES	*res;
	MYSQL_ROW	 row;
	int		 io, sql, lag, ok = 0;

	r->lag_s = -1;
	r->word = "down";
	if ((my = db_conn(d)) == NULL) {
		snprintf(r->state, sizeof(r->state), "down: %s", d->errstr);
		return 0;
	}
	if (mysql_query(my, "SHOW SLAVE STATUS") != 0 ||
	    (res = mysql_store_result(my)) == NULL) {
		db_fail(d, "SHOW SLAVE STATUS");
		snprintf(r->state, sizeof(r->state), "down: %s", d->errstr);
		return 0;
	}
	io = column(res, "Slave_IO_Running");
	sql = column(res, "Slave_SQL_Running");
	lag = column(res, "Seconds_Behind_Master");
	r->word = "not replicating";
	if ((row = mysql_fetch_row(res)) == NULL || io < 0 || sql < 0 ||
	    lag < 0)
		snprintf(r->state, sizeof(r->state), "not replicating (no "
		    "replication configured)");
	else if (row[sql] == NULL || strcmp(row[sql], "Yes") != 0)
		snprintf(r->state, sizeof(r->state), "not replicating (SQL "
		    "thread stopped)");
	else if (row[lag] == NULL)
		snprintf(r->state, sizeof(r->state), "lag unknown");
	else {
		r->lag_s = strtoll(row[lag], NULL, 10);
		if (r->lag_s > r->max_lag_s) {
			r->word = "behind";
			snprintf(r->state, sizeof(r->state), "%lld s behind "
			    "(over mysql_read_max_lag_s %d)", r->lag_s,
			    r->max_lag_s);
		}
		else if (row[io] == NULL || strcmp(row[io], "Yes") != 0)
			/* applied all it got; the primary may be ahead */
			snprintf(r->state, sizeof(r->state), "not replicating "
			    "(IO thread %s)", row[io] ? row[io] : "?");
		else {
			snprintf(r->state, sizeof(r->state), "ok");
			r->word = "ok";
			ok = 1;
		}
	}
	mysql_free_result(res);
	return ok && caught_up(r);
}

int
replica_check(struct replica *r)
{
	int was = r->usable;

	if (!r->configured)
		return 0;
	r->usable = look(r);
	r->checked_ms = mono_ms();
	metrics_gauge(METRICS_REPLICA_LAG_MS, r->lag_s < 0 ? -1 :
	    r->lag_s * 1000);
	if (was != r->usable)
		log_info("mysql replica %s:%d: %s; reading from the %s",
		    r->replica.db.host, r->replica.db.port, r->state,
		    r->usable ? "replica" : "primary");
	return r->usable;
}

struct dbq *
replica_reader(struct replica *r)
{
	if (!r->configured)
		return &r->primary;
	if (r->checked_ms == 0 || mono_ms() - r->checked_ms >= REPLICA_CHECK_MS)
		(void)replica_check(r);
	if (r->usable)
		return &r->replica;
	r->fallbacks++;
	metrics_count(METRICS_REPLICA_FALLBACKS);
	return &r->primary;
}

struct dbq *
replica_failed(struct replica *r, struct dbq *q)
{
	if (q != &r->replica)
		return NULL;
	if (r->usable)
		log_warnx("mysql replica: %s; reading from the primary",
		    q->errstr);
	r->usable = 0;
	r->word = "down";
	snprintf(r->state, sizeof(r->state), "down: %s", q->errstr);
	r->checked_ms = mono_ms();
	r->fallbacks++;
	metrics_count(METRICS_REPLICA_FALLBACKS);
	return &r->primary;
}
