/* SPDX-License-Identifier: ISC */
/*
 * dbq.c - the query responder's SQL (see dbq.h).
 *
 * One generic runner (run()) binds text or integer parameters, executes a
 * cached prepared statement and hands every row to a callback as an array
 * of NUL-terminated strings (NULL for SQL NULL).  The callbacks render JSON.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "dbq.h"
#include "money.h"
#include "ticket.h"
#include "valid.h"

#define DBQ_ARGS_MAX	4
#define DBQ_COLS_MAX	18
#define DBQ_COL_MAX	1024	/* bytes of one column as text */

/* RFC 3339 UTC of a DATETIME / DATETIME(3) column */
#define SQL_DATE(c)	"DATE_FORMAT(" c ", '%Y-%m-%dT%H:%i:%sZ')"
#define SQL_STAMP(c)	"CONCAT(LEFT(DATE_FORMAT(" c \
			", '%Y-%m-%dT%H:%i:%s.%f'), 23), 'Z')"
/* the same with milliseconds only when there are some (sale windows) */
#define SQL_WHEN(c)	"IF(MICROSECOND(" c ") = 0, " SQL_DATE(c) ", " \
			SQL_STAMP(c) ")"
/* the opening of zone z of event e, and whether it is on sale now */
#define SQL_OPENS	"(SELECT o.opens_at FROM event_onsale o WHERE " \
			"o.event_id = e.event_id AND z.zone_id BETWEEN " \
			"o.from_zone AND o.to_zone LIMIT 1)"
#define SQL_ON_SALE	"e.status <> 'CANCELLED' AND (e.closes_at IS NULL OR " \
			"e.closes_at > UTC_TIMESTAMP(3)) AND COALESCE(" \
			SQL_OPENS " <= UTC_TIMESTAMP(3), 1)"
#define SQL_TICKET	"SELECT ticket_id, venue_id, event_id, zone_id, row_no, " \
			"col_no, price, " SQL_STAMP("created_on") " FROM ticket "
/* a ticket that counts: not cancelled (docs/api.md) */
#define SQL_LIVE(t)	t "live_seat = 1"
/* SQL_TICKET's columns and status, cancelled_on, order_id (columns 8-10) */
#define SQL_TICKET_ALL	"SELECT t.ticket_id, t.venue_id, t.event_id, " \
			"t.zone_id, t.row_no, t.col_no, t.price, " \
			SQL_STAMP("t.created_on") ", t.status, " \
			SQL_STAMP("t.cancelled_on") ", t.order_id "

static const char *const dbq_sql[DBQ__MAX] = {
	[DBQ_VENUES] =
	    "SELECT v.venue_id, v.name, z.zone_id, z.price, z.row_count, "
	    "z.col_count FROM venue v LEFT JOIN zone z ON z.venue_id = "
	    "v.venue_id ORDER BY v.venue_id, z.zone_id",
	[DBQ_VENUE_EVENTS] =
	    "SELECT v.venue_id, e.event_id, e.name, e.type, "
	    SQL_DATE("e.event_date") ", e.status, " SQL_WHEN("e.closes_at")
	    " FROM venue v LEFT JOIN event e ON "
	    "e.venue_id = v.venue_id WHERE v.venue_id = ? "
	    "ORDER BY e.event_date, e.event_id",
	[DBQ_EVENT] =
	    "SELECT e.event_id, e.venue_id, e.name, e.type, "
	    SQL_DATE("e.event_date") ", z.zone_id, z.price, z.row_count, "
	    "z.col_count, e.status, " SQL_WHEN("e.closes_at") ", "
	    SQL_WHEN(SQL_OPENS) ", " SQL_ON_SALE
	    " FROM event e LEFT JOIN zone z ON z.venue_id = "
	    "e.venue_id WHERE e.event_id = ? ORDER BY z.zone_id",
	[DBQ_EVENT_ZONE] =
	    "SELECT e.venue_id, z.zone_id FROM event e LEFT JOIN zone z ON "
	    "z.venue_id = e.venue_id AND z.zone_id = ? WHERE e.event_id = ?",
	/* stats, count and money read the sales summary kept by triggers on
	 * ticket (sql/migrations/003_zone_sales.sql): O(zones), not O(tickets) */
	[DBQ_STATS] =
	    "SELECT e.venue_id, z.zone_id, z.row_count * z.col_count, "
	    "COALESCE(s.sold, 0), COALESCE(s.revenue, 0) FROM event e "
	    "LEFT JOIN zone z ON z.venue_id = e.venue_id LEFT JOIN zone_sales "
	    "s ON s.event_id = e.event_id AND s.zone_id = z.zone_id "
	    "WHERE e.event_id = ? ORDER BY z.zone_id",
	[DBQ_TICKETS] =
	    SQL_TICKET "WHERE event_id = ? AND ticket_id > ? AND "
	    SQL_LIVE("") " ORDER BY ticket_id LIMIT ?",
	[DBQ_TICKETS_ZONE] =
	    SQL_TICKET "WHERE event_id = ? AND zone_id = ? AND ticket_id > ? "
	    "AND " SQL_LIVE("") " ORDER BY ticket_id LIMIT ?",
	[DBQ_TICKET] =
	    SQL_TICKET_ALL "FROM ticket t WHERE t.ticket_id = ?",
	[DBQ_COUNT] =
	    "SELECT (SELECT COALESCE(SUM(s.sold), 0) FROM zone_sales s WHERE "
	    "s.event_id = e.event_id) FROM event e WHERE e.event_id = ?",
	[DBQ_MONEY] =
	    "SELECT (SELECT COALESCE(SUM(s.revenue), 0) FROM zone_sales s "
	    "WHERE s.event_id = e.event_id) FROM event e "
	    "WHERE e.event_id = ? AND e.venue_id = ?",
	[DBQ_ORDER] =
	    SQL_TICKET_ALL ", o.venue_id, o.event_id, o.zone_id, o.total, "
	    "o.status, " SQL_STAMP("o.created_on") ", "
	    SQL_STAMP("o.cancelled_on") " FROM orders o JOIN ticket t ON "
	    "t.order_id = o.order_id WHERE o.order_id = ? "
	    "ORDER BY t.row_no, t.col_no",
};

/* A statement parameter: text, or an integer if s is NULL. */
struct dbq_arg {
	const char	*s;
	long long	 i;
};

/* One row: n columns, col[i] NULL for SQL NULL. */
struct dbq_row {
	unsigned	 n;
	const char	*col[DBQ_COLS_MAX];
};

/* Renders one row; returns 0, or a enum dbq_res to stop with. */
typedef enum dbq_res (*dbq_row_fn)(const struct dbq_row *, void *);

void
dbq_init(struct dbq *q, const struct conf *c)
{
	memset(q, 0, sizeof(*q));
	db_init(&q->db, c, c->mysql_query_user, c->mysql_query_password);
}

/* Frees every statement (after the connection went: they only free). */
static void
drop_stmts(struct dbq *q)
{
	int i;

	for (i = 0; i < DBQ__MAX; i++) {
		if (q->st[i] != NULL)
			mysql_stmt_close(q->st[i]);
		q->st[i] = NULL;
	}
}

void
dbq_close(struct dbq *q)
{
	/* statements first, while they can still tell the server */
	drop_stmts(q);
	db_close(&q->db);
}

/* The failure of q->db becomes q's. */
static void
from_db(struct dbq *q)
{
	err_set(&q->err, q->errstr, q->db.err, "%s", q->db.errstr);
}

/* Records a statement error; a client error (2000..2999: connection lost,
 * server gone, timeout) drops the connection.  Returns DBQ_FAIL. */
static enum dbq_res
stmt_fail(struct dbq *q, MYSQL_STMT *st, const char *what)
{
	unsigned int e = mysql_stmt_errno(st);

	err_set(&q->err, q->errstr, e == 0 || (e >= 2000 && e < 3000) ?
	    ERR_IO : ERR_SERVER, "mysql: %s: %s (%u)", what,
	    mysql_stmt_error(st), e);
	if (q->err == ERR_IO) {
		db_close(&q->db);
		drop_stmts(q);
	}
	return DBQ_FAIL;
}

/* The prepared statement s on a live connection, or NULL with errstr set. */
static MYSQL_STMT *
prepared(struct dbq *q, enum dbq_stmt s)
{
	MYSQL		*my;
	MYSQL_STMT	*st;

	if ((my = db_conn(&q->db)) == NULL) {
		from_db(q);
		return NULL;
	}
	if (q->gen != q->db.reconnects) {
		/* a new connection: the old statements died with the old one */
		drop_stmts(q);
		q->gen = q->db.reconnects;
	}
	if (q->st[s] != NULL)
		return q->st[s];
	if ((st = mysql_stmt_init(my)) == NULL) {
		err_set(&q->err, q->errstr, ERR_OTHER, "mysql: out of memory");
		return NULL;
	}
	if (mysql_stmt_prepare(st, dbq_sql[s], strlen(dbq_sql[s])) != 0) {
		stmt_fail(q, st, "prepare");
		mysql_stmt_close(st);
		return NULL;
	}
	return q->st[s] = st;
}

/* Binds args, runs st and stores its result.  Returns DBQ_OK; DBQ_FAIL
 * with errstr set if MySQL failed (the connection dropped on a client
 * error, stmt_fail()); or DBQ_BAD_DATA with errstr set if st does not take
 * nargs parameters (a bug of the caller, not worth a retry). */
static enum dbq_res
execute(struct dbq *q, MYSQL_STMT *st, const struct dbq_arg *args,
    unsigned nargs)
{
	MYSQL_BIND	b[DBQ_ARGS_MAX];
	unsigned long	len[DBQ_ARGS_MAX];
	unsigned	i;

	memset(b, 0, sizeof(b));
	for (i = 0; i < nargs; i++) {
		if (args[i].s != NULL) {
			len[i] = strlen(args[i].s);
			b[i].buffer_type = MYSQL_TYPE_STRING;
			b[i].buffer = (void *)(uintptr_t)args[i].s;
			b[i].buffer_length = len[i];
			b[i].length = &len[i];
		} else {
			b[i].buffer_type = MYSQL_TYPE_LONGLONG;
			b[i].buffer = (void *)(uintptr_t)&args[i].i;
		}
	}
	if (mysql_stmt_param_count(st) != nargs) {
		err_set(&q->err, q->errstr, ERR_OTHER, "mysql: statement takes "
		    "%lu parameters, not %u", mysql_stmt_param_count(st), nargs);
		return DBQ_BAD_DATA;
	}
	if (mysql_stmt_bind_param(st, b) != 0)
		return stmt_fail(q, st, "bind");
	if (mysql_stmt_execute(st) != 0)
		return stmt_fail(q, st, "execute");
	if (mysql_stmt_store_result(st) != 0)
		return stmt_fail(q, st, "store result");
	return DBQ_OK;
}

/* Fetches every row of an executed st into fn.  *rows counts them. */
static enum dbq_res
fetch(struct dbq *q, MYSQL_STMT *st, dbq_row_fn fn, void *arg, long *rows)
{
	char		buf[DBQ_COLS_MAX][DBQ_COL_MAX];
	MYSQL_BIND	b[DBQ_COLS_MAX];
	unsigned long	len[DBQ_COLS_MAX];
	my_bool		isnull[DBQ_COLS_MAX], err[DBQ_COLS_MAX];
	struct dbq_row	row;
	enum dbq_res	res = DBQ_OK;
	unsigned	i, n = mysql_stmt_field_count(st);
	int		rc;

	if (n > DBQ_COLS_MAX) {
		err_set(&q->err, q->errstr, ERR_OTHER, "mysql: %u columns", n);
		return DBQ_BAD_DATA;
	}
	memset(b, 0, sizeof(b));
	for (i = 0; i < n; i++) {
		b[i].buffer_type = MYSQL_TYPE_STRING;
		b[i].buffer = buf[i];
		b[i].buffer_length = DBQ_COL_MAX;
		b[i].length = &len[i];
		b[i].is_null = &isnull[i];
		b[i].error = &err[i];
	}
	if (mysql_stmt_bind_result(st, b) != 0)
		return stmt_fail(q, st, "bind result");
	row.n = n;
	while (res == DBQ_OK && (rc = mysql_stmt_fetch(st)) != MYSQL_NO_DATA) {
		if (rc == 1)
			return stmt_fail(q, st, "fetch");
		for (i = 0; i < n; i++) {
			if (!isnull[i] && (len[i] >= DBQ_COL_MAX ||
			    (rc == MYSQL_DATA_TRUNCATED && err[i]))) {
				err_set(&q->err, q->errstr, ERR_OTHER,
				    "mysql: column %u over %d bytes", i,
				    DBQ_COL_MAX);
				return DBQ_BAD_DATA;
			}
			if (isnull[i]) {
				row.col[i] = NULL;
				continue;
			}
			buf[i][len[i]] = '\0';
			row.col[i] = buf[i];
		}
		(*rows)++;
		res = fn(&row, arg);
	}
	return res;
}

/* Runs statement s with args, calling fn for each row.  Sets *rows to the
 * number of rows.  A failure on a connection that was open before (it may
 * have gone stale: server restarted) is retried once on a fresh one,
 * unless rows were already delivered. */
static enum dbq_res
run(struct dbq *q, enum dbq_stmt s, const struct dbq_arg *args,
    unsigned nargs, dbq_row_fn fn, void *arg, long *rows)
{
	MYSQL_STMT	*st;
	enum dbq_res	 res = DBQ_FAIL;
	int		 attempt, was_open;

	for (attempt = 0; attempt < 2; attempt++) {
		*rows = 0;
		was_open = q->db.my != NULL;
		if ((st = prepared(q, s)) == NULL)
			res = DBQ_FAIL;
		else if ((res = execute(q, st, args, nargs)) == DBQ_OK) {
			res = fetch(q, st, fn, arg, rows);
			/* a fetch that found the connection dead closed it
			 * and freed every statement, st too */
			if (q->db.my != NULL)
				mysql_stmt_free_result(st);
		}
		if (res != DBQ_FAIL || !was_open || *rows > 0 ||
		    q->db.my != NULL)
			break;
	}
	return res;
}

int
dbq_ping(struct dbq *q)
{
	int was_open = q->db.my != NULL;

	if (db_ping(&q->db) == 0)
		return 0;
	/* a stale connection: one more try on a fresh one */
	if (was_open && q->db.my == NULL && db_ping(&q->db) == 0)
		return 0;
	from_db(q);
	return -1;
}

/* ---------------------------------------------------------------- rows */

/* Parses a positive integer column; returns 0 or -1. */
static int
col_long(const char *s, long *v)
{
	return s != NULL && valid_digits(s, v) == 0 ? 0 : -1;
}

static enum dbq_res
bad_row(struct dbq *q, const char *what)
{
	err_set(&q->err, q->errstr, ERR_OTHER, "mysql: bad %s row", what);
	return DBQ_BAD_DATA;
}

/* Writes "zoneId","ticketPrice","rowCount","colCount" into the open
 * object from columns zone, price, rows, cols. */
static int
zone_fields(struct jout *j, const char *const *c)
{
	long	zone, rows, cols;
	char	price[MONEY_TEXT_MAX];

	if (col_long(c[0], &zone) || col_long(c[2], &rows) ||
	    col_long(c[3], &cols) || c[1] == NULL ||
	    money_canon(c[1], price, sizeof(price)) < 0)
		return -1;
	jout_int(j, "zoneId", zone);
	jout_num(j, "ticketPrice", price);
	jout_int(j, "rowCount", rows);
	jout_int(j, "colCount", cols);
	return 0;
}

/* The same as an object {...}. */
static int
zone_json(struct jout *j, const char *const *c)
{
	jout_obj_open(j, NULL);
	if (zone_fields(j, c) != 0)
		return -1;
	jout_obj_close(j);
	return 0;
}

/* An optional time column: the string, or null. */
static void
when_field(struct jout *j, const char *key, const char *v)
{
	if (v != NULL)
		jout_str(j, key, v);
	else
		jout_null(j, key);
}

/* The sale state of an event (docs/api.md): c[0] status, c[1] closesAt
 * (or NULL). */
static int
event_sale_fields(struct jout *j, const char *const *c)
{
	if (c[0] == NULL)
		return -1;
	jout_str(j, "status", c[0]);
	when_field(j, "closesAt", c[1]);
	return 0;
}

/* Renders rows grouped by their first column (venue list). */
struct venues_ctx {
	struct dbq	*q;
	struct jout	*j;
	char		 venue[ID_MAX + 1];
};

static enum dbq_res
venues_row(const struct dbq_row *r, void *arg)
{
	struct venues_ctx *v = arg;

	if (!valid_id(r->col[0]) || r->col[1] == NULL)
		return bad_row(v->q, "venue");
	if (strcmp(v->venue, r->col[0]) != 0) {
		if (v->venue[0] != '\0') {
			jout_arr_close(v->j);
			jout_obj_close(v->j);
		}
		snprintf(v->venue, sizeof(v->venue), "%s", r->col[0]);
		jout_obj_open(v->j, NULL);
		jout_str(v->j, "venueId", r->col[0]);
		jout_str(v->j, "name", r->col[1]);
		jout_arr_open(v->j, "zones");
	}
	if (r->col[2] != NULL && zone_json(v->j, r->col + 2) != 0)
		return bad_row(v->q, "zone");
	return DBQ_OK;
}

enum dbq_res
dbq_venues(struct dbq *q, struct jout *j)
{
	struct venues_ctx	v = { q, j, "" };
	enum dbq_res		res;
	long			rows;

	jout_arr_open(j, NULL);
	if ((res = run(q, DBQ_VENUES, NULL, 0, venues_row, &v, &rows)) !=
	    DBQ_OK)
		return res;
	if (rows > 0) {
		jout_arr_close(j);
		jout_obj_close(j);
	}
	jout_arr_close(j);
	return DBQ_OK;
}

/* An event's own fields from columns event, venue, name, type, date. */
static int
event_fields(struct jout *j, const char *const *c)
{
	if (!valid_id(c[0]) || !valid_id(c[1]) || c[2] == NULL ||
	    c[3] == NULL || c[4] == NULL)
		return -1;
	jout_str(j, "eventId", c[0]);
	jout_str(j, "venueId", c[1]);
	jout_str(j, "name", c[2]);
	jout_str(j, "type", c[3]);
	jout_str(j, "date", c[4]);
	return 0;
}

struct list_ctx {
	struct dbq	*q;
	struct jout	*j;
	int		 started;
};

static enum dbq_res
venue_events_row(const struct dbq_row *r, void *arg)
{
	struct list_ctx	*l = arg;
	const char	*c[5];

	if (r->col[1] == NULL)
		return DBQ_OK;			/* a venue without events */
	c[0] = r->col[1];
	c[1] = r->col[0];
	c[2] = r->col[2];
	c[3] = r->col[3];
	c[4] = r->col[4];
	jout_obj_open(l->j, NULL);
	if (event_fields(l->j, c) != 0 ||
	    event_sale_fields(l->j, r->col + 5) != 0)
		return bad_row(l->q, "event");
	jout_obj_close(l->j);
	return DBQ_OK;
}

enum dbq_res
dbq_venue_events(struct dbq *q, const char *venue, struct jout *j)
{
	struct list_ctx	l = { q, j, 0 };
	struct dbq_arg	a[1] = { { venue, 0 } };
	enum dbq_res	res;
	long		rows;

	jout_arr_open(j, NULL);
	res = run(q, DBQ_VENUE_EVENTS, a, 1, venue_events_row, &l, &rows);
	if (res != DBQ_OK)
		return res;
	if (rows == 0)
		return DBQ_NOT_FOUND;
	jout_arr_close(j);
	return DBQ_OK;
}

static enum dbq_res
event_row(const struct dbq_row *r, void *arg)
{
	struct list_ctx	*l = arg;

	if (!l->started) {
		/* the first row: the event itself */
		l->started = 1;
		jout_obj_open(l->j, NULL);
		if (event_fields(l->j, r->col) != 0 ||
		    event_sale_fields(l->j, r->col + 9) != 0)
			return bad_row(l->q, "event");
		jout_arr_open(l->j, "zones");
	}
	if (r->col[5] == NULL)
		return DBQ_OK;			/* a venue without zones */
	jout_obj_open(l->j, NULL);
	if (zone_fields(l->j, r->col + 5) != 0)
		return bad_row(l->q, "zone");
	when_field(l->j, "opensAt", r->col[11]);
	jout_bool(l->j, "onSale", r->col[12] != NULL &&
	    strcmp(r->col[12], "1") == 0);
	jout_obj_close(l->j);
	return DBQ_OK;
}

/* Runs statement s with the one text argument id; fn opens an object and
 * a list in it on the first row and adds to the list; both are closed
 * here.  DBQ_NOT_FOUND without rows. */
static enum dbq_res
object_with_list(struct dbq *q, enum dbq_stmt s, const char *id,
    dbq_row_fn fn, struct jout *j)
{
	struct list_ctx	l = { q, j, 0 };
	struct dbq_arg	a[1] = { { id, 0 } };
	enum dbq_res	res;
	long		rows;

	if ((res = run(q, s, a, 1, fn, &l, &rows)) != DBQ_OK)
		return res;
	if (rows == 0)
		return DBQ_NOT_FOUND;
	jout_arr_close(j);
	jout_obj_close(j);
	return DBQ_OK;
}

enum dbq_res
dbq_event(struct dbq *q, const char *event, struct jout *j)
{
	return object_with_list(q, DBQ_EVENT, event, event_row, j);
}

/* Stats: zones go to their own buffer, totals are summed in cents. */
struct stats_ctx {
	struct dbq	*q;
	struct jout	 zones;
	char		 venue[ID_MAX + 1];
	long long	 sold, capacity, cents;
};

static enum dbq_res
stats_row(const struct dbq_row *r, void *arg)
{
	struct stats_ctx	*s = arg;
	long			 zone, cap, sold;
	long long		 cents;
	char			 rev[MONEY_TEXT_MAX];

	if (!valid_id(r->col[0]))
		return bad_row(s->q, "stats");
	snprintf(s->venue, sizeof(s->venue), "%s", r->col[0]);
	if (r->col[1] == NULL)
		return DBQ_OK;			/* a venue without zones */
	if (col_long(r->col[1], &zone) || col_long(r->col[2], &cap) ||
	    col_long(r->col[3], &sold) || money_parse(r->col[4], &cents) ||
	    money_format(cents, rev, sizeof(rev)) < 0 ||
	    cents > MONEY_CENTS_MAX - s->cents)
		return bad_row(s->q, "stats");
	s->sold += sold;
	s->capacity += cap;
	s->cents += cents;
	jout_obj_open(&s->zones, NULL);
	jout_int(&s->zones, "zoneId", zone);
	jout_int(&s->zones, "sold", sold);
	jout_int(&s->zones, "capacity", cap);
	jout_num(&s->zones, "revenue", rev);
	jout_obj_close(&s->zones);
	return DBQ_OK;
}

enum dbq_res
dbq_stats(struct dbq *q, const char *event, struct jout *j)
{
	struct stats_ctx s;
	struct dbq_arg	 a[1] = { { event, 0 } };
	enum dbq_res	 res;
	const char	*zones;
	size_t		 zlen;
	long		 rows;
	char		 rev[MONEY_TEXT_MAX];

	memset(&s, 0, sizeof(s));
	s.q = q;
	jout_init(&s.zones, j->cap);
	jout_arr_open(&s.zones, NULL);
	res = run(q, DBQ_STATS, a, 1, stats_row, &s, &rows);
	jout_arr_close(&s.zones);
	if (res == DBQ_OK && rows == 0)
		res = DBQ_NOT_FOUND;
	if (res == DBQ_OK) {
		money_format(s.cents, rev, sizeof(rev));
		jout_obj_open(j, NULL);
		jout_str(j, "eventId", event);
		jout_str(j, "venueId", s.venue);
		jout_int(j, "sold", s.sold);
		jout_int(j, "capacity", s.capacity);
		jout_num(j, "revenue", rev);
		if ((zones = jout_done(&s.zones, &zlen)) != NULL)
			jout_raw(j, "zones", zones, zlen);
		else if (jout_error(j) == JOUT_OK)
			j->err = jout_error(&s.zones);
		jout_obj_close(j);
	}
	jout_free(&s.zones);
	return res;
}

/* Fills t from the columns of SQL_TICKET; returns 0 or -1. */
static int
ticket_row(const struct dbq_row *r, struct ticket *t)
{
	char price[MONEY_TEXT_MAX];

	memset(t, 0, sizeof(*t));
	if (!valid_uuid(r->col[0]) || !valid_id(r->col[1]) ||
	    !valid_id(r->col[2]) || col_long(r->col[3], &t->zone) ||
	    col_long(r->col[4], &t->row) || col_long(r->col[5], &t->col) ||
	    r->col[6] == NULL ||
	    money_canon(r->col[6], price, sizeof(price)) < 0 ||
	    !ticket_price_ok(price) || !ticket_stamp_ok(r->col[7]))
		return -1;
	memcpy(t->id, r->col[0], UUID_LEN + 1);
	snprintf(t->venue, sizeof(t->venue), "%s", r->col[1]);
	snprintf(t->event, sizeof(t->event), "%s", r->col[2]);
	/* ticket_price_ok() bounds the length: this never fails */
	if (snprintf(t->price, sizeof(t->price), "%s", price) >=
	    (int)sizeof(t->price))
		return -1;
	snprintf(t->created, sizeof(t->created), "%s", r->col[7]);
	return 0;
}

struct tickets_ctx {
	struct dbq	*q;
	struct jout	*j;
	long		 limit, n;
	char		 last[UUID_LEN + 1];
};

static enum dbq_res
tickets_row(const struct dbq_row *r, void *arg)
{
	struct tickets_ctx	*c = arg;
	struct ticket		 t;
	char			 json[TICKET_JSON_MAX];
	int			 len;

	if (ticket_row(r, &t) != 0 ||
	    (len = ticket_json(&t, json, sizeof(json))) < 0)
		return bad_row(c->q, "ticket");
	if (++c->n > c->limit)
		return DBQ_OK;		/* the look-ahead row: there is more */
	jout_raw(c->j, NULL, json, (size_t)len);
	memcpy(c->last, t.id, sizeof(c->last));
	return DBQ_OK;
}

/* Row of DBQ_EVENT_ZONE: is the zone column set? */
static enum dbq_res
ez_row(const struct dbq_row *r, void *arg)
{
	*(int *)arg = r->col[1] != NULL;
	return DBQ_OK;
}

/* Tells an empty page of a known event (and zone, if zone > 0) from an
 * unknown one: DBQ_OK if known, DBQ_NOT_FOUND, or a failure. */
static enum dbq_res
event_zone_known(struct dbq *q, const char *event, long zone)
{
	struct dbq_arg	a[2] = { { NULL, zone }, { event, 0 } };
	enum dbq_res	res;
	long		rows;
	int		has_zone = 0;

	if ((res = run(q, DBQ_EVENT_ZONE, a, 2, ez_row, &has_zone, &rows)) !=
	    DBQ_OK)
		return res;
	return rows > 0 && (zone == 0 || has_zone) ? DBQ_OK : DBQ_NOT_FOUND;
}

enum dbq_res
dbq_tickets(struct dbq *q, const char *event, long zone, const char *after,
    long limit, struct jout *j)
{
	struct tickets_ctx c = { q, j, limit, 0, "" };
	struct dbq_arg	 a[4];
	enum dbq_res	 res;
	long		 rows;

	/* one row more than asked tells whether there is a next page */
	a[0].s = event;
	if (zone > 0) {
		a[1].s = NULL;
		a[1].i = zone;
		a[2].s = after;
		a[3].s = NULL;
		a[3].i = limit + 1;
	} else {
		a[1].s = after;
		a[2].s = NULL;
		a[2].i = limit + 1;
	}
	jout_obj_open(j, NULL);
	jout_arr_open(j, "tickets");
	res = run(q, zone > 0 ? DBQ_TICKETS_ZONE : DBQ_TICKETS, a,
	    zone > 0 ? 4 : 3, tickets_row, &c, &rows);
	if (res != DBQ_OK)
		return res;
	if (rows == 0 && (res = event_zone_known(q, event, zone)) != DBQ_OK)
		return res;
	jout_arr_close(j);
	if (c.n > limit)
		jout_str(j, "next", c.last);
	else
		jout_null(j, "next");
	jout_obj_close(j);
	return DBQ_OK;
}

struct one_ctx {
	struct dbq	*q;
	struct jout	*j;
};

/* Writes the ticket of columns 0-10 of SQL_TICKET_ALL: the ticket JSON
 * of CONTRACT section 2 with its status, then orderId (when it has an
 * order) and cancelledOn when cancelled: the fields and order of the
 * Redis cache (lua/order.lua, lua/cancel.lua).  Returns 0 or -1 (a row
 * we cannot represent). */
static int
ticket_all_json(const struct dbq_row *r, struct jout *j)
{
	struct ticket t;

	if (ticket_row(r, &t) != 0 || r->col[8] == NULL ||
	    (strcmp(r->col[8], TICKET_STATUS) != 0 &&
	    strcmp(r->col[8], "CANCELLED") != 0) ||
	    (r->col[9] != NULL && !ticket_stamp_ok(r->col[9])) ||
	    (r->col[10] != NULL && !valid_uuid(r->col[10])))
		return -1;
	jout_obj_open(j, NULL);
	jout_str(j, "ticketId", t.id);
	jout_str(j, "venueId", t.venue);
	jout_str(j, "eventId", t.event);
	jout_int(j, "zoneId", t.zone);
	jout_int(j, "row", t.row);
	jout_int(j, "column", t.col);
	jout_num(j, "price", t.price);
	jout_str(j, "status", r->col[8]);
	jout_str(j, "createdOn", t.created);
	if (r->col[10] != NULL)
		jout_str(j, "orderId", r->col[10]);
	if (r->col[9] != NULL)
		jout_str(j, "cancelledOn", r->col[9]);
	jout_obj_close(j);
	return 0;
}

static enum dbq_res
ticket_one_row(const struct dbq_row *r, void *arg)
{
	struct one_ctx *c = arg;

	if (ticket_all_json(r, c->j) != 0)
		return bad_row(c->q, "ticket");
	return DBQ_OK;
}

enum dbq_res
dbq_ticket(struct dbq *q, const char *id, struct jout *j)
{
	struct one_ctx	c = { q, j };
	struct dbq_arg	a[1] = { { id, 0 } };
	enum dbq_res	res;
	long		rows;

	if ((res = run(q, DBQ_TICKET, a, 1, ticket_one_row, &c, &rows)) !=
	    DBQ_OK)
		return res;
	return rows > 0 ? DBQ_OK : DBQ_NOT_FOUND;
}

/* A row of DBQ_ORDER: the order's fields (columns 11-17) on the first,
 * then one ticket each. */
static enum dbq_res
order_row(const struct dbq_row *r, void *arg)
{
	struct list_ctx	*c = arg;
	char		 total[MONEY_TEXT_MAX];
	long		 zone;

	if (!c->started) {
		c->started = 1;
		if (r->col[10] == NULL || !valid_id(r->col[11]) ||
		    !valid_id(r->col[12]) || col_long(r->col[13], &zone) ||
		    r->col[14] == NULL ||
		    money_canon(r->col[14], total, sizeof(total)) < 0 ||
		    r->col[15] == NULL || (strcmp(r->col[15], "CONFIRMED") != 0 &&
		    strcmp(r->col[15], "CANCELLED") != 0) ||
		    !ticket_stamp_ok(r->col[16]) ||
		    (r->col[17] != NULL && !ticket_stamp_ok(r->col[17])))
			return bad_row(c->q, "order");
		jout_obj_open(c->j, NULL);
		jout_str(c->j, "orderId", r->col[10]);
		jout_str(c->j, "venueId", r->col[11]);
		jout_str(c->j, "eventId", r->col[12]);
		jout_int(c->j, "zoneId", zone);
		jout_str(c->j, "status", r->col[15]);
		jout_num(c->j, "total", total);
		jout_str(c->j, "createdOn", r->col[16]);
		if (r->col[17] != NULL)
			jout_str(c->j, "cancelledOn", r->col[17]);
		jout_arr_open(c->j, "tickets");
	}
	if (ticket_all_json(r, c->j) != 0)
		return bad_row(c->q, "ticket");
	return DBQ_OK;
}

enum dbq_res
dbq_order(struct dbq *q, const char *id, struct jout *j)
{
	return object_with_list(q, DBQ_ORDER, id, order_row, j);
}

/* Copies the single column of a one-row answer. */
struct value_ctx {
	char	v[MONEY_TEXT_MAX];
	int	ok;
};

static enum dbq_res
value_row(const struct dbq_row *r, void *arg)
{
	struct value_ctx *c = arg;

	c->ok = r->col[0] != NULL && strlen(r->col[0]) < sizeof(c->v);
	if (c->ok)
		memcpy(c->v, r->col[0], strlen(r->col[0]) + 1);
	return DBQ_OK;
}

enum dbq_res
dbq_count(struct dbq *q, const char *event, struct jout *j)
{
	struct value_ctx c = { "", 0 };
	struct dbq_arg	 a[1] = { { event, 0 } };
	enum dbq_res	 res;
	long		 rows, sold;

	if ((res = run(q, DBQ_COUNT, a, 1, value_row, &c, &rows)) != DBQ_OK)
		return res;
	if (rows == 0)
		return DBQ_NOT_FOUND;
	if (!c.ok || col_long(c.v, &sold) != 0)
		return bad_row(q, "count");
	jout_obj_open(j, NULL);
	jout_str(j, "eventId", event);
	jout_int(j, "sold", sold);
	jout_obj_close(j);
	return DBQ_OK;
}

enum dbq_res
dbq_money(struct dbq *q, const char *venue, const char *event,
    struct jout *j)
{
	struct value_ctx c = { "", 0 };
	struct dbq_arg	 a[2] = { { event, 0 }, { venue, 0 } };
	enum dbq_res	 res;
	long		 rows;
	char		 rev[MONEY_TEXT_MAX];

	if ((res = run(q, DBQ_MONEY, a, 2, value_row, &c, &rows)) != DBQ_OK)
		return res;
	if (rows == 0)
		return DBQ_NOT_FOUND;
	if (!c.ok || money_canon(c.v, rev, sizeof(rev)) < 0)
		return bad_row(q, "money");
	jout_obj_open(j, NULL);
	jout_str(j, "venueId", venue);
	jout_str(j, "eventId", event);
	jout_num(j, "revenue", rev);
	jout_obj_close(j);
	return DBQ_OK;
}
