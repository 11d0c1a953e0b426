/* SPDX-License-Identifier: ISC */
/*
 * sink_sql.c - the MySQL sink: tickets into the read model (table ticket).
 *
 * A batch is one multi-row INSERT in autocommit mode, so one transaction:
 * all rows or none, durable when the statement returns (InnoDB with
 * innodb_flush_log_at_trx_commit=1).  The consumer's account may only
 * SELECT and INSERT, so duplicates are not hidden by INSERT IGNORE or
 * ON DUPLICATE KEY UPDATE; a refused batch is explained instead:
 *
 *   - look up the batch's ids and seats (tsql_lookup);
 *   - a ticket already there with the same id and seat is done (a
 *     redelivery: idempotent, acked);
 *   - a seat that belongs to another ticket id is a DOUBLE SALE: the
 *     message is dead-lettered and an error is logged loudly; the row in
 *     place is never touched.  Before that, the write model is told: the
 *     DynamoDB item of the refused ticket is marked status DOUBLE_SALE
 *     with doubleSaleOf (the seat's owner) and doubleSaleOn (created if
 *     the nosql pipeline has not written it yet), so both stores hold one
 *     sale of the seat and DynamoDB records the conflict (ticketctl check
 *     lists it).  An order refused so is marked ticket by ticket: each of
 *     its tickets whose seat is another's.  A failed mark keeps the
 *     message for a retry.  With consumer_ddb_write = batch the nosql
 *     pipeline's BatchWriteItem of a round-1 ticket is unconditional and
 *     would replace a mark made before it: when the mark finds no item
 *     written by that pipeline yet, the message is held and marked again
 *     after a back-off until the item is there, at most MARK_WAIT_MS (an
 *     order's items are put only where none is, then updated keeping
 *     their status: their marks need no wait; nor does a requeued
 *     message's, whose nosql copy came long before).  A message `ticketctl
 *     dlq requeue` put back (MQ_REQUEUED_HEADER) that MySQL now takes (the
 *     seat's other ticket cancelled since) undoes its tickets' marks
 *     (requeued_stored()).  Only these paths talk to DynamoDB: nothing is
 *     added to a normal sale;
 *   - an order whose seat belongs to a live ticket that Redis knows as
 *     cancelled (c:<ticketId> in bo:ords:{E:Z}, written by lua/cancel.lua
 *     before it frees the seat) is no double sale: the seat was sold again
 *     at once and this order overtook the cancellation's message (two
 *     publishers, no order between them; a cancellation published by the
 *     sweeper comes seconds later).  That cancellation is applied now, as
 *     its message will be again (idempotent), and the order retried;
 *     so is a round-1 ticket (an old responder, during an upgrade) in its
 *     place (cancelled_first());
 *   - the other way round, an order whose own ticket Redis knows as
 *     cancelled, refused on the seat of a live ticket that reached MySQL
 *     first (the seat sold again after the cancel; the order redelivered,
 *     or taken by another consumer): no double sale either.  Its
 *     cancellation is recorded (ticket_cancel) and the order retried,
 *     which stores that ticket CANCELLED;
 *   - the rest is inserted again.  If nothing could be explained (a value
 *     the server refuses, or two tickets of the batch for one seat), the
 *     rows are inserted one by one to find the culprit.
 *
 * Connection-level and server-side trouble (gone away, shutdown, lock wait,
 * deadlock, too many connections, privileges) is transient: the pipeline
 * backs off and retries.  So is a value the server refuses (data too long,
 * out of range, ...): the message parser has checked every field against
 * the contract, so a refused value means the table no longer fits the
 * tickets (a column narrowed, a constraint added) and every message would
 * be refused alike.  That is a configuration alarm (logged at error level
 * once, until writes work again), never a reason to dead-letter: the
 * messages stay queued until the schema is fixed.  Only a message that
 * does not parse is poison (pipe.c), and a double sale is dead-lettered.
 *
 * The sales summary (zone_sales) needs nothing here: triggers on ticket
 * (sql/migrations/003_zone_sales.sql) change it in each of these
 * statements, by the rows the statement changed (docs/consumer.md).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <errmsg.h>
#include <json-c/json.h>
#include <mysql.h>

#include "clock.h"
#include "db.h"
#include "fmt.h"
#include "ddb.h"
#include "keys.h"
#include "log.h"
#include "mq.h"
#include "osql.h"
#include "rds.h"
#include "sink.h"
#include "tsql.h"

#define SQL_MODE	"SET SESSION sql_mode = 'STRICT_ALL_TABLES," \
			"NO_ZERO_DATE,NO_ZERO_IN_DATE,NO_ENGINE_SUBSTITUTION'"
/* REPEATABLE READ whatever the server's default: read_cancels() relies on
 * its gap locks (under READ COMMITTED a cancellation committed between an
 * order's look-up and its insert would be lost) */
#define SQL_ISOLATION	"SET SESSION TRANSACTION ISOLATION LEVEL " \
			"REPEATABLE READ"
#define ER_DUP		1062	/* ER_DUP_ENTRY */
#define EXPLAIN_ROUNDS	3	/* insert/look-up rounds before row by row */

#define DOUBLE_SALE_STATUS	"DOUBLE_SALE"
#define MARK_WAIT_MS	15000	/* longest wait for the nosql write */

/* A double sale whose mark waits for the nosql pipeline's write.  One
 * entry per item of a batch and a spare: a batch is held until all its
 * marks are done, so the entry a new one takes (the least recently seen)
 * is never one still waiting, whose wait would begin again. */
struct mark_wait {
	char		id[UUID_LEN + 1];
	long long	since;		/* mono_ms() of the first mark */
	long long	seen;		/* mono_ms() of the last */
};

struct sink_sql {
	struct db		 db;
	unsigned long		 session;	/* db.reconnects when set up */
	size_t			 max;		/* items per batch */
	char			*sql;		/* TSQL_SIZE(max) bytes */
	const struct ticket	**tv;		/* tickets of one statement */
	size_t			*idx;		/* their item indices */
	size_t			*lead;
	struct tsql_row		*rows;		/* look-up result */
	size_t			 nrows;
	size_t			 rows_max;
	int			 alarm;		/* schema alarm raised */
	struct sink		*sk;		/* its errstr: see pipe.h */
	struct ddb		 ddb;		/* double-sale marks only */
	unsigned char		*held;		/* mark failed: retry later */
	char			 mark_err[256];
	int			 batch;		/* consumer_ddb_write = batch */
	struct mark_wait	*waits;		/* max + 1 */
	char			*osql;		/* OSQL_SIZE(max) bytes */
	struct osql_order	*ov;		/* orders of one transaction */
	size_t			*oidx;		/* their item indices */
	const struct cancel	**cv;		/* cancellations of one */
	struct rds		 rds;		/* cancellations not yet here */
	int			 rds_ok;	/* rds_init() succeeded */
};


enum sql_outcome {
	SQL_OK,		/* inserted (committed) */
	SQL_REFUSED,	/* the server refused the rows: duplicate or value */
	SQL_TRANSIENT	/* try again later */
};

/* 1 if a server error is about the values of a row: with values the
 * parser accepted, the table does not fit the contract (see above). */
static int
value_error(unsigned e)
{
	switch (e) {
	case 1048:	/* column cannot be null */
	case 1264:	/* out of range */
	case 1265:	/* data truncated */
	case 1292:	/* incorrect datetime value */
	case 1366:	/* incorrect value */
	case 1406:	/* data too long */
	case 1690:	/* value out of range */
	case 4025:	/* CHECK constraint failed (MariaDB) */
		return 1;
	default:
		return 0;
	}
}

/* The connection, its session set up; NULL with errstr set. */
static MYSQL *
conn(struct sink_sql *s)
{
	MYSQL *my;

	if ((my = db_conn(&s->db)) == NULL)
		return NULL;
	if (s->session != s->db.reconnects) {
		if (mysql_query(my, SQL_MODE) != 0 ||
		    mysql_query(my, SQL_ISOLATION) != 0) {
			db_fail(&s->db, "set sql_mode and isolation");
			db_close(&s->db);
			return NULL;
		}
		s->session = s->db.reconnects;
	}
	return my;
}

/* A write went in: the configuration alarm, if one was raised, is over.
 * Only a statement that stored something says so (a round-1 insert, an
 * order's COMMIT): a START TRANSACTION works whatever the table refuses,
 * and logged the end of the alarm at every retry. */
static enum sql_outcome
written(struct sink_sql *s, enum sql_outcome o)
{
	if (o == SQL_OK && s->alarm) {
		log_info("mysql: the ticket table takes tickets again; "
		    "configuration alarm over");
		s->alarm = 0;
	}
	return o;
}

/* Runs one statement without result.  *code gets the server's error
 * number (0 if none); a failure is recorded in the sink (sink_fail()). */
static enum sql_outcome
run(struct sink_sql *s, const char *sql, size_t len, unsigned *code)
{
	MYSQL *my;

	*code = 0;
	if ((my = conn(s)) == NULL) {
		sink_fail(s->sk, s->db.err, "%s", s->db.errstr);
		return SQL_TRANSIENT;
	}
	if (mysql_real_query(my, sql, len) == 0)
		return SQL_OK;
	*code = mysql_errno(my);
	db_fail(&s->db, "insert");
	if (value_error(*code)) {
		sink_fail(s->sk, ERR_SERVER, "CONFIGURATION ALARM: %s: the "
		    "ticket table refuses valid tickets (schema changed?); "
		    "messages kept", s->db.errstr);
		if (!s->alarm)
			log_error("mysql: %s", s->sk->errstr);
		s->alarm = 1;
		return SQL_TRANSIENT;
	}
	sink_fail(s->sk, s->db.err, "%s", s->db.errstr);
	if (*code == ER_DUP)
		return SQL_REFUSED;
	return SQL_TRANSIENT;
}

/* Inserts the k tickets s->tv[0..k-1] in one statement. */
static enum sql_outcome
insert(struct sink_sql *s, size_t k, unsigned *code)
{
	int len;

	if ((len = tsql_insert(s->tv, k, s->sql, TSQL_SIZE(s->max))) < 0) {
		/* cannot happen: the message parser checked every value */
		*code = 0;
		sink_fail(s->sk, ERR_OTHER, "ticket cannot be written as SQL");
		return SQL_REFUSED;
	}
	return written(s, run(s, s->sql, (size_t)len, code));
}

/* Looks up the rows sharing an id or a (live) seat with tv[0..k-1] into
 * s->rows, building the query in buf.  Returns 0 or -1 (transient) with
 * the sink's errstr set. */
static int
lookup(struct sink_sql *s, const struct ticket *const *tv, size_t k,
    char *buf, size_t size)
{
	MYSQL		*my;
	MYSQL_RES	*res;
	MYSQL_ROW	 row;
	int		 len;

	s->nrows = 0;
	if ((len = tsql_lookup(tv, k, buf, size)) < 0) {
		sink_fail(s->sk, ERR_OTHER, "look-up cannot be written as SQL");
		return -1;
	}
	if ((my = conn(s)) == NULL) {
		sink_fail(s->sk, s->db.err, "%s", s->db.errstr);
		return -1;
	}
	if (mysql_real_query(my, buf, (size_t)len) != 0 ||
	    (res = mysql_store_result(my)) == NULL) {
		db_fail(&s->db, "look-up");
		sink_fail(s->sk, s->db.err, "%s", s->db.errstr);
		return -1;
	}
	while ((row = mysql_fetch_row(res)) != NULL &&
	    s->nrows < s->rows_max) {
		if (tsql_row_parse(row, &s->rows[s->nrows]) == 0)
			s->nrows++;
	}
	mysql_free_result(res);
	return 0;
}

/* Logs the alarm of a refused ticket. */
static void
alarm_log(const struct ticket *t, enum tsql_verdict v,
    const struct tsql_row *other)
{
	if (v == TSQL_SEAT_TAKEN)
		log_error("DOUBLE SALE ALARM: ticket %s for %s seat zone %ld "
		    "row %ld column %ld (venue %s, created %s) refused: the "
		    "seat already belongs to ticket %s; the message goes to "
		    MQ_QUEUE_SQL MQ_DEAD_SUFFIX ", the stored ticket is kept, "
		    "the DynamoDB item is marked " DOUBLE_SALE_STATUS,
		    t->id, t->event, t->zone, t->row, t->col, t->venue,
		    t->created, other->id);
	else if (v == TSQL_PRESENT)
		log_error("DOUBLE SALE ALARM: ticket %s of an order arrived for "
		    "%s zone %ld row %ld column %ld, where it is stored "
		    "already, without that order; the message goes to "
		    MQ_QUEUE_SQL MQ_DEAD_SUFFIX ", the stored ticket is kept",
		    t->id, t->event, t->zone, t->row, t->col);
	else
		log_error("DOUBLE SALE ALARM: ticket id %s arrived for %s zone "
		    "%ld row %ld column %ld but is stored for %s zone %ld row "
		    "%ld column %ld; the message goes to " MQ_QUEUE_SQL
		    MQ_DEAD_SUFFIX ", the stored ticket is kept", t->id,
		    t->event, t->zone, t->row, t->col, other->event,
		    other->zone, other->row, other->col);
}

/* 1 if an UpdateItem answer (ReturnValues ALL_OLD) shows an item the
 * nosql pipeline wrote (status CREATED), not nothing or our own mark. */
static int
written_before(const char *body)
{
	struct json_object	*o, *a, *st, *v;
	int			 yes = 0;

	if (body == NULL || (o = json_tokener_parse(body)) == NULL)
		return 0;
	if (json_object_object_get_ex(o, "Attributes", &a) &&
	    json_object_object_get_ex(a, "status", &st) &&
	    json_object_object_get_ex(st, "S", &v) &&
	    json_object_is_type(v, json_type_string) &&
	    strcmp(json_object_get_string(v), TICKET_STATUS) == 0)
		yes = 1;
	json_object_put(o);
	return yes;
}

/* The mark of ticket id found no nosql write yet: -1 (hold, retry) while
 * it waits less than MARK_WAIT_MS, then 0 (give up waiting, logged). */
static int
mark_wait(struct sink_sql *s, const char *id)
{
	long long	 now = mono_ms();
	struct mark_wait *w = NULL, *lru = &s->waits[0];
	size_t		 i;

	for (i = 0; i <= s->max; i++) {
		if (strcmp(s->waits[i].id, id) == 0)
			w = &s->waits[i];
		if (s->waits[i].seen < lru->seen)
			lru = &s->waits[i];
	}
	if (w == NULL) {
		w = lru;
		snprintf(w->id, sizeof(w->id), "%s", id);
		w->since = now;
	}
	w->seen = now;
	if (now - w->since < MARK_WAIT_MS) {
		snprintf(s->mark_err, sizeof(s->mark_err), "double sale %s "
		    "marked in DynamoDB before the nosql pipeline wrote it: "
		    "marking again once it has", id);
		return -1;
	}
	log_warnx("mysql: double sale %s: the nosql pipeline did not write "
	    "it within %d s; if it does later, its write replaces the mark "
	    "(ticketctl check then shows the seat sold twice in DynamoDB)", id,
	    MARK_WAIT_MS / 1000);
	w->id[0] = '\0';
	return 0;
}

/*
 * Marks the DynamoDB item of t, refused for a seat that is other's, as a
 * double sale (see the top of the file): an UpdateItem that sets status,
 * doubleSaleOf and doubleSaleOn, and the ticket's other fields where the
 * item has none yet.  Every value comes from the parsed ticket or a stored
 * row (validated ids, numbers).  wait: t is a round-1 ticket, whose
 * BatchWriteItem (consumer_ddb_write = batch) would replace a mark made
 * before it (mark_wait()); an order's ticket is put only where no item is,
 * and its update keeps the status there, so its mark never waits.
 * Returns 0, or -1 with s->mark_err set.
 */
static int
mark_double_sale(struct sink_sql *s, const struct ticket *t,
    const struct tsql_row *other, int wait)
{
	struct ddb_resp	 r;
	char		 json[2048], now[STAMP_LEN + 1];
	int		 n, ret;

	ticket_stamp(wall_ms(), now);
	n = snprintf(json, sizeof(json), "{\"TableName\":\"%s\","
	    "\"Key\":{\"ticketId\":{\"S\":\"%s\"}},"
	    "\"UpdateExpression\":\"SET #s = :s, #o = :o, #d = :d, "
	    "#v = if_not_exists(#v, :v), #e = if_not_exists(#e, :e), "
	    "#z = if_not_exists(#z, :z), #r = if_not_exists(#r, :r), "
	    "#c = if_not_exists(#c, :c), #p = if_not_exists(#p, :p), "
	    "#t = if_not_exists(#t, :t)\","
	    "\"ExpressionAttributeNames\":{\"#s\":\"status\","
	    "\"#o\":\"doubleSaleOf\",\"#d\":\"doubleSaleOn\","
	    "\"#v\":\"venueId\",\"#e\":\"eventId\",\"#z\":\"zoneId\","
	    "\"#r\":\"row\",\"#c\":\"column\",\"#p\":\"price\","
	    "\"#t\":\"createdOn\"},"
	    "\"ExpressionAttributeValues\":{"
	    "\":s\":{\"S\":\"" DOUBLE_SALE_STATUS "\"},"
	    "\":o\":{\"S\":\"%s\"},\":d\":{\"S\":\"%s\"},"
	    "\":v\":{\"S\":\"%s\"},\":e\":{\"S\":\"%s\"},"
	    "\":z\":{\"N\":\"%ld\"},\":r\":{\"N\":\"%ld\"},"
	    "\":c\":{\"N\":\"%ld\"},\":p\":{\"N\":\"%s\"},"
	    "\":t\":{\"S\":\"%s\"}},\"ReturnValues\":\"ALL_OLD\"}",
	    s->ddb.table, t->id, other->id, now,
	    t->venue, t->event, t->zone, t->row, t->col, t->price, t->created);
	if (n < 0 || (size_t)n >= sizeof(json)) {
		snprintf(s->mark_err, sizeof(s->mark_err), "dynamodb: double "
		    "sale mark of %s does not fit", t->id);
		return -1;
	}
	if (ddb_call(&s->ddb, "UpdateItem", json, &r) != 0) {
		fmt_trunc(s->mark_err, sizeof(s->mark_err), "cannot mark double "
		    "sale %s in DynamoDB: %s", t->id, s->ddb.errstr);
		return -1;
	}
	ret = r.status == 200 ? 0 : -1;
	if (ret != 0)
		fmt_trunc(s->mark_err, sizeof(s->mark_err), "cannot mark double "
		    "sale %s in DynamoDB: %s", t->id, s->ddb.errstr);
	else if (wait && s->batch && !written_before(r.body))
		ret = mark_wait(s, t->id);
	ddb_resp_free(&r);
	return ret;
}

/* Undoes the double-sale mark of ticket id, if it has one: an order or
 * round-1 ticket that ticketctl dlq requeue put back (the seat's other
 * ticket cancelled since) and MySQL took is a sale, not a double one.  A
 * conditional UpdateItem: only an item marked DOUBLE_SALE becomes CREATED
 * again (the ticket's other attributes are there: the nosql pipeline's
 * write or the mark's if_not_exists).  Returns 0 (undone, or no mark), or
 * -1 with s->mark_err set. */
static int
unmark_double_sale(struct sink_sql *s, const char *id)
{
	struct ddb_resp	 r;
	char		 json[768];
	int		 n, ret;

	n = snprintf(json, sizeof(json), "{\"TableName\":\"%s\","
	    "\"Key\":{\"ticketId\":{\"S\":\"%s\"}},"
	    "\"UpdateExpression\":\"SET #s = :c REMOVE #o, #d\","
	    "\"ConditionExpression\":\"#s = :m\","
	    "\"ExpressionAttributeNames\":{\"#s\":\"status\","
	    "\"#o\":\"doubleSaleOf\",\"#d\":\"doubleSaleOn\"},"
	    "\"ExpressionAttributeValues\":{"
	    "\":c\":{\"S\":\"" TICKET_STATUS "\"},"
	    "\":m\":{\"S\":\"" DOUBLE_SALE_STATUS "\"}}}", s->ddb.table, id);
	if (n < 0 || (size_t)n >= sizeof(json)) {
		snprintf(s->mark_err, sizeof(s->mark_err), "dynamodb: undoing "
		    "the double sale mark of %s does not fit", id);
		return -1;
	}
	if (ddb_call(&s->ddb, "UpdateItem", json, &r) != 0) {
		fmt_trunc(s->mark_err, sizeof(s->mark_err), "cannot undo the "
		    "double sale mark of %s in DynamoDB: %s", id,
		    s->ddb.errstr);
		return -1;
	}
	ret = r.status == 200 || strcmp(r.type,
	    "ConditionalCheckFailedException") == 0 ? 0 : -1;
	if (r.status == 200)
		log_info("mysql: ticket %s, requeued, is stored: its DynamoDB "
		    "item is no longer marked a double sale", id);
	else if (ret != 0)
		fmt_trunc(s->mark_err, sizeof(s->mark_err), "cannot undo the "
		    "double sale mark of %s in DynamoDB: %s", id,
		    s->ddb.errstr);
	ddb_resp_free(&r);
	return ret;
}

/* The requeued items (ticketctl dlq requeue) MySQL now has: each of their
 * tickets' double-sale marks undone; an item whose undo failed is left to
 * retry (stored already then: done again, undone again).  Returns 0, or
 * -1 with the sink's errstr set. */
static int
requeued_stored(struct sink_sql *s, struct item *items, size_t n)
{
	size_t	i, j;
	int	ret = 0;

	for (i = 0; i < n; i++) {
		struct item *it = &items[i];

		if (!it->requeued || it->state != PIPE_DONE)
			continue;
		for (j = 0; it->kind == MSG_ORDER && j < it->u.o.n; j++)
			if (unmark_double_sale(s, it->u.o.t[j].id) != 0)
				break;
		if (it->kind == MSG_ORDER ? j == it->u.o.n :
		    it->kind != MSG_TICKET ||
		    unmark_double_sale(s, it->t.id) == 0)
			continue;
		it->state = PIPE_RETRY;
		if (ret == 0)
			sink_fail(s->sk, ERR_IO, "%s", s->mark_err);
		ret = -1;
	}
	return ret;
}

static int	cancelled_since(struct sink_sql *, const struct tsql_row *,
		    struct cancel *);
static enum sql_outcome	txn(struct sink_sql *, size_t, size_t, unsigned *);

/* A round-1 ticket it refused on the seat of other, a ticket of an order
 * that Redis knows as cancelled (an old responder sold the seat again at
 * once, and the ticket overtook the cancellation's message, as an order
 * may: see the top of the file): that cancellation now, and 1 (insert it
 * again).  0 if Redis knows no such cancellation (a double sale); -1 if
 * it cannot tell now, or the cancellation could not be written (the
 * message held, s->mark_err set). */
static int
cancelled_first(struct sink_sql *s, const struct item *it,
    const struct tsql_row *other)
{
	struct cancel	c;
	unsigned	code;
	int		gone;

	if ((gone = cancelled_since(s, other, &c)) == 1) {
		s->cv[0] = &c;
		if (txn(s, 0, 1, &code) != SQL_OK)
			gone = -1;
		else
			log_info("mysql: ticket %s (order %s) was cancelled on "
			    "%s and its seat sold again to ticket %s before the "
			    "cancellation's message came: cancellation "
			    "recorded, the ticket again", c.ids[0], c.order,
			    c.on, it->t.id);
	}
	if (gone < 0)
		fmt_trunc(s->mark_err, sizeof(s->mark_err), "ticket %s: %s",
		    it->t.id, s->sk->errstr);
	return gone;
}

/* Applies the look-up to the k items s->idx[0..k-1]: done, dead (alarm)
 * or left alone; a double sale whose DynamoDB mark failed, or whose seat's
 * cancellation Redis could not tell, is held for a retry; a ticket on the
 * seat of a ticket cancelled since is left to insert again
 * (cancelled_first()).  Returns how many were settled or held. */
static size_t
explain(struct sink_sql *s, struct item *items, size_t k)
{
	const struct tsql_row	*other;
	enum tsql_verdict	 v;
	size_t			 j, settled = 0;
	int			 gone;

	for (j = 0; j < k; j++) {
		struct item *it = &items[s->idx[j]];

		v = tsql_classify(&it->t, s->rows, s->nrows, &other);
		if (v == TSQL_ABSENT)
			continue;
		if (v == TSQL_SEAT_TAKEN &&
		    (gone = cancelled_first(s, it, other)) != 0) {
			if (gone < 0) {
				settled++;
				it->state = PIPE_RETRY;
				s->held[s->idx[j]] = 1;
			}
			continue;
		}
		settled++;
		if (v == TSQL_PRESENT) {
			it->state = PIPE_DONE;
			continue;
		}
		/* a requeued message's nosql copy went its own way when
		 * it first came (dlq requeue puts back only the queue it
		 * died in): no write to wait for */
		if (v == TSQL_SEAT_TAKEN &&
		    mark_double_sale(s, &it->t, other, !it->requeued) != 0) {
			it->state = PIPE_RETRY;
			s->held[s->idx[j]] = 1;
			continue;
		}
		it->state = PIPE_DEAD;
		it->why = v == TSQL_SEAT_TAKEN ? "double sale: the seat "
		    "belongs to another ticket" : "double sale: the ticket id "
		    "is stored for another seat";
		alarm_log(&it->t, v, other);
	}
	return settled;
}

/* Fills s->tv / s->idx with the leaders still to write; returns count. */
static size_t
pending(struct sink_sql *s, struct item *items, size_t n)
{
	size_t i, k = 0;

	for (i = 0; i < n; i++) {
		if (s->lead[i] != i || s->held[i] ||
		    items[i].kind != MSG_TICKET ||
		    (items[i].state != PIPE_NEW &&
		    items[i].state != PIPE_RETRY))
			continue;
		s->idx[k] = i;
		s->tv[k++] = &items[i].t;
	}
	return k;
}

static void
mark(struct sink_sql *s, struct item *items, size_t k, enum pipe_state st)
{
	size_t j;

	for (j = 0; j < k; j++)
		items[s->idx[j]].state = st;
}

/* Row by row, for a refusal that the look-up could not explain.
 * Returns 0, or -1 if a transient failure left rows to retry. */
static int
one_by_one(struct sink_sql *s, struct item *items, size_t k)
{
	size_t		 j, i;
	unsigned	 code;
	enum sql_outcome	 o;

	for (j = 0; j < k; j++) {
		i = s->idx[j];
		s->tv[0] = &items[i].t;
		o = insert(s, 1, &code);
		if (o == SQL_OK) {
			items[i].state = PIPE_DONE;
			continue;
		}
		if (o == SQL_REFUSED && code != ER_DUP) {
			items[i].state = PIPE_DEAD;
			items[i].why = "MySQL refused a value of the ticket";
			log_warnx("mysql: ticket %s refused: %s", items[i].t.id,
			    s->sk->errstr);
			continue;
		}
		if (o == SQL_REFUSED) {
			s->idx[0] = i;
			if (lookup(s, s->tv, 1, s->sql,
			    TSQL_SIZE(s->max)) == 0 &&
			    explain(s, items, 1) == 1)
				continue;
			/* a duplicate gone by now: try again later */
		}
		for (; j < k; j++)
			items[s->idx[j]].state = PIPE_RETRY;
		return -1;
	}
	return 0;
}

/* ------------------------------------------- orders and cancellations */

/* Runs a built statement (len -1: it could not be built: refused). */
static enum sql_outcome
stmt(struct sink_sql *s, int len, unsigned *code)
{
	if (len < 0) {
		/* cannot happen: the message parser checked every value */
		*code = 0;
		sink_fail(s->sk, ERR_OTHER, "order cannot be written as SQL");
		return SQL_REFUSED;
	}
	return run(s, s->osql, (size_t)len, code);
}

/* Reads what ticket_cancel holds for the tickets of s->ov[0..k-1] into
 * their cancelled[] (under a shared lock: a cancellation committed by
 * another consumer meanwhile waits for this transaction; for a row not
 * there yet, the lock is REPEATABLE READ's gap lock: SQL_ISOLATION). */
static enum sql_outcome
read_cancels(struct sink_sql *s, size_t k, unsigned *code)
{
	MYSQL_RES	*res;
	MYSQL_ROW	 row;
	MYSQL		*my = s->db.my;
	int		 len;
	size_t		 j;

	for (j = 0; j < k; j++)
		memset(s->ov[j].cancelled, 0, sizeof(s->ov[j].cancelled));
	len = osql_cancel_lookup(s->ov, k, s->osql, OSQL_SIZE(s->max));
	if (len < 0)
		return stmt(s, len, code);
	if (my == NULL || mysql_real_query(my, s->osql, (size_t)len) != 0 ||
	    (res = mysql_store_result(my)) == NULL) {
		*code = my != NULL ? mysql_errno(my) : 0;
		db_fail(&s->db, "cancellation look-up");
		sink_fail(s->sk, s->db.err, "%s", s->db.errstr);
		return SQL_TRANSIENT;
	}
	while ((row = mysql_fetch_row(res)) != NULL)
		(void)osql_cancel_row(s->ov, k, row[0], row[1]);
	mysql_free_result(res);
	return SQL_OK;
}

/* One transaction: the nc cancellations s->cv[0..nc-1], then the k orders
 * s->ov[0..k-1] with their tickets (a cancellation seen before them, in
 * this batch too, applied at once).  Cancellations first: a seat
 * cancelled and sold again at once may bring the new order before the
 * cancellation of the seat's last ticket (two publishers, no order
 * between them); in one batch, the new order then finds the seat free.
 * SQL_OK once committed; anything else rolled back. */
static enum sql_outcome
txn(struct sink_sql *s, size_t k, size_t nc, unsigned *code)
{
	const size_t	 size = OSQL_SIZE(s->max);
	enum sql_outcome o;
	size_t		 j;

	if ((o = run(s, "START TRANSACTION", 17, code)) != SQL_OK)
		return SQL_TRANSIENT;
	if (nc > 0)
		o = stmt(s, osql_cancel_log(s->cv, nc, s->osql, size), code);
	for (j = 0; o == SQL_OK && j < nc; j++)
		if ((o = stmt(s, osql_cancel_tickets(s->cv[j], s->osql, size),
		    code)) == SQL_OK)
			o = stmt(s, osql_cancel_order(s->cv[j], s->osql, size),
			    code);
	if (o == SQL_OK && k > 0 &&
	    (o = read_cancels(s, k, code)) == SQL_OK &&
	    (o = stmt(s, osql_orders_insert(s->ov, k, s->osql, size),
	    code)) == SQL_OK)
		o = stmt(s, osql_tickets_insert(s->ov, k, s->osql, size), code);
	if (o == SQL_OK) {
		unsigned c2;

		return written(s, run(s, "COMMIT", 6, &c2)) == SQL_OK ?
		    SQL_OK : SQL_TRANSIENT;
	}
	/* a lost connection has rolled back by itself */
	if (s->db.my != NULL && mysql_query(s->db.my, "ROLLBACK") != 0) {
		db_fail(&s->db, "rollback");
		db_close(&s->db);
	}
	return o;
}

/* Whether the order of it is stored: *stored 1 or 0.  Returns 0, or -1
 * if unknown (the sink's errstr set). */
static int
order_stored(struct sink_sql *s, const struct item *it, int *stored)
{
	MYSQL_RES	*res;
	MYSQL		*my;
	int		 len;

	if ((len = osql_order_present(&it->u.o, s->osql,
	    OSQL_SIZE(s->max))) < 0) {
		sink_fail(s->sk, ERR_OTHER, "order look-up cannot be written "
		    "as SQL");
		return -1;
	}
	if ((my = conn(s)) == NULL ||
	    mysql_real_query(my, s->osql, (size_t)len) != 0 ||
	    (res = mysql_store_result(my)) == NULL) {
		db_fail(&s->db, "order look-up");
		sink_fail(s->sk, s->db.err, "%s", s->db.errstr);
		return -1;
	}
	*stored = mysql_num_rows(res) > 0;
	mysql_free_result(res);
	return 0;
}

/* When Redis says ticket id of (event, zone) was cancelled (c:<id> in
 * bo:ords, written by lua/cancel.lua before it frees the seat): fills
 * c->on and returns 1; 0 if Redis knows none (or id is a round-1 ticket,
 * which cannot be cancelled); -1 if Redis cannot tell now (the sink's
 * errstr set: retry, never dead-letter on a guess). */
static int
redis_cancel(struct sink_sql *s, const char *event, long zone,
    const char *id, struct cancel *c)
{
	char		 tag[TAG_MAX], key[KEY_MAX], dt[OSQL_DT_LEN];
	redisReply	*rep;
	int		 found = 0;

	memset(c, 0, sizeof(*c));
	if (!s->rds_ok || keys_tag(event, zone, tag, sizeof(tag)) < 0 ||
	    keys_build(KEY_ORDS, tag, key, sizeof(key)) < 0)
		return 0;
	rep = rds_cmd(&s->rds, keys_slot(tag), "HGET %s c:%s", key, id);
	if (rep == NULL) {
		sink_fail(s->sk, s->rds.err, "redis, looking for a "
		    "cancellation of %s: %s", id, s->rds.errstr);
		return -1;
	}
	if (rep->type == REDIS_REPLY_STRING && rep->len < sizeof(c->on)) {
		memcpy(c->on, rep->str, rep->len);
		found = tsql_datetime(c->on, dt) == 0;
	}
	freeReplyObject(rep);
	if (!found)
		return 0;
	snprintf(c->event, sizeof(c->event), "%s", event);
	c->zone = zone;
	c->n = 1;
	memcpy(c->ids[0], id, UUID_LEN + 1);
	return 1;
}

/* The cancellation of other (a live ticket of MySQL whose seat an order
 * wants) if Redis knows it (see the top of the file): fills c with it,
 * for that one ticket, and returns 1; else as redis_cancel(). */
static int
cancelled_since(struct sink_sql *s, const struct tsql_row *other,
    struct cancel *c)
{
	char		 q[160];
	MYSQL_RES	*res;
	MYSQL_ROW	 row;
	MYSQL		*my;
	int		 found;

	if ((found = redis_cancel(s, other->event, other->zone, other->id,
	    c)) != 1)
		return found;
	snprintf(q, sizeof(q), "SELECT order_id FROM ticket WHERE ticket_id = "
	    "'%s' AND order_id IS NOT NULL", other->id);
	if ((my = conn(s)) == NULL || mysql_query(my, q) != 0 ||
	    (res = mysql_store_result(my)) == NULL) {
		db_fail(&s->db, "order of a ticket");
		sink_fail(s->sk, s->db.err, "%s", s->db.errstr);
		return -1;
	}
	found = (row = mysql_fetch_row(res)) != NULL && row[0] != NULL &&
	    strlen(row[0]) == UUID_LEN;
	if (found)
		memcpy(c->order, row[0], UUID_LEN + 1);
	mysql_free_result(res);
	return found;
}

/* Dead-letters the order of it, a double sale: v[first..n-1] are the
 * verdicts on its tickets tv (v[first] the first that is not
 * TSQL_ABSENT), other the stored rows they met.  The DynamoDB item of each
 * ticket whose seat is another's is marked first (as explain() does for a
 * round-1 ticket), then every conflict is alarmed.  Returns 0, or -1 if a
 * mark failed (the sink's errstr set: retry). */
static int
order_double_sale(struct sink_sql *s, struct item *it,
    const struct ticket *const *tv, const enum tsql_verdict *v,
    const struct tsql_row *const *other, size_t first)
{
	size_t j, n = it->u.o.n;

	for (j = first; j < n; j++)
		if (v[j] == TSQL_SEAT_TAKEN &&
		    mark_double_sale(s, tv[j], other[j], 0) != 0) {
			sink_fail(s->sk, ERR_IO, "%s", s->mark_err);
			return -1;
		}
	it->state = PIPE_DEAD;
	it->why = v[first] == TSQL_SEAT_TAKEN ? "double sale: a seat of the "
	    "order belongs to another ticket" : "double sale: a ticket id of "
	    "the order is stored already";
	for (j = first; j < n; j++)
		if (v[j] != TSQL_ABSENT)
			alarm_log(tv[j], v[j], other[j]);
	return 0;
}

/* Settles the lone order of it that the server refused (code): already
 * stored (a redelivery: done), a double sale (dead, alarm: none of its
 * tickets is written, each whose seat is another's is marked in DynamoDB:
 * order_double_sale()), a refused value (dead).  Returns 0 if settled, -1
 * to retry (nothing explains the refusal now, or a mark failed). */
static int
order_refused(struct sink_sql *s, struct item *it, unsigned code)
{
	const struct ticket	*tv[ORDER_TICKETS_MAX];
	const struct tsql_row	*other[ORDER_TICKETS_MAX];
	enum tsql_verdict	 v[ORDER_TICKETS_MAX];
	struct cancel		 c;
	size_t			 j, n = it->u.o.n, first = n;
	int			 stored, gone, mine;

	if (code != ER_DUP) {
		it->state = PIPE_DEAD;
		it->why = "MySQL refused a value of the order";
		log_warnx("mysql: order %s refused: %s", it->u.o.id,
		    s->sk->errstr);
		return 0;
	}
	if (order_stored(s, it, &stored) != 0)
		return -1;
	if (stored) {
		it->state = PIPE_DONE;
		return 0;
	}
	for (j = 0; j < n; j++)
		tv[j] = &it->u.o.t[j];
	if (lookup(s, tv, n, s->osql, OSQL_SIZE(s->max)) != 0)
		return -1;
	for (j = 0; j < n; j++) {
		v[j] = tsql_classify(tv[j], s->rows, s->nrows, &other[j]);
		if (v[j] == TSQL_ABSENT)
			continue;
		/* the seat's ticket was cancelled and its seat sold again to
		 * this order before the cancellation's message came; or the
		 * other way round: this order's ticket was cancelled, its seat
		 * sold again, and that sale reached MySQL first (a redelivery,
		 * another consumer), so the ticket goes in as CANCELLED once its
		 * cancellation is recorded (read_cancels).  Either way: the
		 * cancellation now, the order again after a back-off. */
		gone = mine = 0;
		if (v[j] == TSQL_SEAT_TAKEN &&
		    (gone = cancelled_since(s, other[j], &c)) == 0 &&
		    (gone = redis_cancel(s, tv[j]->event, tv[j]->zone,
		    tv[j]->id, &c)) == 1) {
			mine = 1;
			memcpy(c.order, it->u.o.id, UUID_LEN + 1);
		}
		if (v[j] == TSQL_SEAT_TAKEN && gone != 0) {
			s->cv[0] = &c;
			if (gone > 0 && txn(s, 0, 1, &code) == SQL_OK)
				log_info("mysql: ticket %s (order %s) was "
				    "cancelled on %s and its seat sold again to "
				    "%s %s%s: cancellation recorded, the order "
				    "again", c.ids[0], c.order, c.on, mine ?
				    "ticket" : "order", mine ? other[j]->id :
				    it->u.o.id, mine ? ", stored first" : " before "
				    "the cancellation's message came");
			return -1;
		}
		if (first == n)
			first = j;
	}
	if (first == n)
		return -1;	/* a duplicate gone by now: try again later */
	return order_double_sale(s, it, tv, v, other, first);
}

/* The cancellations s->cv / s->idx[0..nc-1] refused together: each alone
 * (a value the server refuses is poison).  Returns 0 or -1 (retry left). */
static int
cancels_alone(struct sink_sql *s, struct item *items, size_t nc)
{
	unsigned		 code;
	enum sql_outcome		 o;
	size_t			 j;
	int			 ret = 0;

	for (j = 0; j < nc; j++) {
		struct item *it = &items[s->idx[j]];

		s->cv[0] = &it->u.c;
		o = txn(s, 0, 1, &code);
		if (o == SQL_OK)
			it->state = PIPE_DONE;
		else if (o == SQL_REFUSED) {
			it->state = PIPE_DEAD;
			it->why = "MySQL refused a value of the cancellation";
			log_warnx("mysql: cancellation of order %s refused: %s",
			    it->u.c.order, s->sk->errstr);
		} else {
			it->state = PIPE_RETRY;
			ret = -1;
		}
	}
	return ret;
}

/* Writes the batch's orders and cancellations (items of kind MSG_ORDER
 * and MSG_CANCEL; tickets are sql_write's): one transaction for all, or,
 * if the server refuses it, one for the cancellations and then one per
 * order.  Sets each item's state; returns 0, or -1 if some item is left
 * to retry (the sink's errstr set). */
static int
orders_write(struct sink_sql *s, struct item *items, size_t n)
{
	unsigned	code;
	enum sql_outcome	o;
	size_t		i, j, k = 0, nc = 0;
	int		ret = 0;

	for (i = 0; i < n; i++) {
		if (items[i].state != PIPE_NEW && items[i].state != PIPE_RETRY)
			continue;
		if (items[i].kind == MSG_ORDER && s->lead[i] == i) {
			s->oidx[k] = i;
			s->ov[k++].o = &items[i].u.o;
		} else if (items[i].kind == MSG_CANCEL) {
			s->idx[nc] = i;
			s->cv[nc++] = &items[i].u.c;
		}
	}
	if (k + nc == 0)
		return 0;
	o = txn(s, k, nc, &code);
	if (o != SQL_REFUSED) {
		for (j = 0; j < k; j++)
			items[s->oidx[j]].state = o == SQL_OK ? PIPE_DONE :
			    PIPE_RETRY;
		for (j = 0; j < nc; j++)
			items[s->idx[j]].state = o == SQL_OK ? PIPE_DONE :
			    PIPE_RETRY;
		return o == SQL_OK ? 0 : -1;
	}
	/* the cancellations first, as in txn() */
	if (nc > 0) {
		o = txn(s, 0, nc, &code);
		for (j = 0; o != SQL_REFUSED && j < nc; j++)
			items[s->idx[j]].state = o == SQL_OK ? PIPE_DONE :
			    PIPE_RETRY;
		if (o == SQL_TRANSIENT)
			ret = -1;
		else if (o == SQL_REFUSED &&
		    cancels_alone(s, items, nc) != 0)
			ret = -1;
	}
	for (j = 0; j < k; j++) {
		struct item *it = &items[s->oidx[j]];

		s->ov[0].o = &it->u.o;
		o = txn(s, 1, 0, &code);
		if (o == SQL_OK)
			it->state = PIPE_DONE;
		else if (o != SQL_REFUSED ||
		    order_refused(s, it, code) != 0) {
			it->state = PIPE_RETRY;
			ret = -1;
		}
	}
	return ret;
}

/* The sink's write(): see pipe.h. */
static int
sql_write(struct sink *sk, struct item *items, size_t n)
{
	struct sink_sql	*s = sk->ctx;
	size_t		 k, i, round;
	unsigned	 code;
	enum sql_outcome	 o;
	int		 ret = 0, oret;

	sink_leaders(items, n, s->lead);
	memset(s->held, 0, n);
	oret = orders_write(s, items, n);
	for (round = 0; round < EXPLAIN_ROUNDS; round++) {
		if ((k = pending(s, items, n)) == 0)
			break;
		o = insert(s, k, &code);
		if (o == SQL_OK) {
			mark(s, items, k, PIPE_DONE);
			break;
		}
		if (o == SQL_TRANSIENT || lookup(s, s->tv, k, s->sql,
		    TSQL_SIZE(s->max)) != 0) {
			mark(s, items, k, PIPE_RETRY);
			ret = -1;
			break;
		}
		if (explain(s, items, k) == 0)
			break;	/* nothing explained: row by row */
	}
	if (ret == 0 && (k = pending(s, items, n)) > 0)
		ret = one_by_one(s, items, k);
	for (i = 0; i < n; i++) {
		if (s->held[i] && ret == 0) {
			sink_fail(s->sk, ERR_IO, "%s", s->mark_err);
			ret = -1;
		}
		if (s->lead[i] == i)
			continue;
		items[i].state = items[s->lead[i]].state;
		items[i].why = items[s->lead[i]].why;
	}
	if (requeued_stored(s, items, n) != 0)
		ret = -1;
	return ret == 0 && oret == 0 ? 0 : -1;
}

static void
sql_free(void *ctx)
{
	struct sink_sql *s = ctx;

	db_close(&s->db);
	ddb_free(&s->ddb);
	if (s->rds_ok)
		rds_close(&s->rds);
	free(s->held);
	free(s->sql);
	free(s->tv);
	free(s->idx);
	free(s->lead);
	free(s->rows);
	free(s->osql);
	free(s->ov);
	free(s->oidx);
	free(s->cv);
	free(s->waits);
	free(s);
}

struct sink *
sink_sql_new(const struct conf *c)
{
	struct sink	*sk;
	struct sink_sql	*s;

	if ((sk = calloc(1, sizeof(*sk))) == NULL)
		return NULL;
	sk->name = "mysql";
	sk->write = sql_write;
	sk->free = sql_free;
	if ((s = calloc(1, sizeof(*s))) == NULL)
		goto nomem;
	sk->ctx = s;
	s->sk = sk;
	db_init(&s->db, c, c->mysql_consumer_user, c->mysql_consumer_password);
	if (ddb_init(&s->ddb, c) != 0) {
		sink_fail(sk, ERR_OTHER, "%s", s->ddb.errstr);
		goto fail;
	}
	if (rds_init_conf(&s->rds, c) != 0) {
		sink_fail(sk, ERR_OTHER, "mysql sink: %s", s->rds.errstr);
		goto fail;
	}
	s->rds_ok = 1;
	s->batch = strcmp(c->consumer_ddb_write, "put") != 0;
	s->max = (size_t)c->consumer_batch;
	/* an id match and a seat match each (of an order's tickets too) */
	s->rows_max = 2 * (s->max > ORDER_TICKETS_MAX ? s->max :
	    ORDER_TICKETS_MAX);
	s->sql = malloc(TSQL_SIZE(s->max));
	s->tv = calloc(s->max, sizeof(*s->tv));
	s->idx = calloc(s->max, sizeof(*s->idx));
	s->lead = calloc(s->max, sizeof(*s->lead));
	s->rows = calloc(s->rows_max, sizeof(*s->rows));
	s->held = calloc(s->max, 1);
	s->osql = malloc(OSQL_SIZE(s->max));
	s->ov = calloc(s->max, sizeof(*s->ov));
	s->oidx = calloc(s->max, sizeof(*s->oidx));
	s->cv = calloc(s->max, sizeof(*s->cv));
	s->waits = calloc(s->max + 1, sizeof(*s->waits));
	if (s->sql == NULL || s->tv == NULL || s->idx == NULL ||
	    s->lead == NULL || s->rows == NULL || s->held == NULL ||
	    s->osql == NULL || s->ov == NULL || s->oidx == NULL ||
	    s->cv == NULL || s->waits == NULL)
		goto nomem;
	return sk;
nomem:
	sink_fail(sk, ERR_OTHER, "mysql sink: out of memory");
fail:
	if (s != NULL)
		sql_free(s);
	sk->ctx = NULL;
	return sk;
}
