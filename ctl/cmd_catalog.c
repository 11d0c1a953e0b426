/* SPDX-License-Identifier: ISC */
/*
 * cmd_catalog.c - ticketctl catalog show | apply FILE [--dry-run] |
 * stagger EVENT --start TIME --every DURATION (docs/catalog.md).
 *
 * apply compares the document with the catalog in MySQL, refuses the whole
 * file if a change needs an unsold zone or event that is sold (tickets in
 * MySQL, seats taken or tickets pending in Redis, messages in flight), and
 * otherwise writes MySQL in one transaction and then Redis zone by zone
 * (lua/load_zone.lua and lua/drop_zone.lua refuse atomically a change to a
 * zone that sold in between).  A failure of Redis or of the commit puts the
 * zones already written back as they were and rolls MySQL back.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "catalog.h"
#include "fmt.h"
#include "when.h"

#define SQL_MAX		(4 * CATDOC_NAME_MAX + 1024)
#define LOCK_NAME	"boxoffice.catalog"
#define LOCK_WAIT_MS	30000		/* for another ticketctl */

void
catalog_db_open(struct ctl *ctl, struct db *d)
{
	db_init(d, &ctl->c, ctl->c.mysql_catalog_user,
	    ctl->c.mysql_catalog_password);
}

/* --------------------------------------------------------- reading MySQL */

/* Runs a query and calls fn for each row; returns 0 or -1 (printed). */
static int
each_row(struct db *d, const char *sql, int (*fn)(MYSQL_ROW, void *),
    void *arg)
{
	MYSQL		*my;
	MYSQL_RES	*res;
	MYSQL_ROW	 row;
	int		 r = 0;

	if ((my = db_conn(d)) == NULL) {
		ctl_err("mysql: %s", d->errstr);
		return -1;
	}
	if (mysql_query(my, sql) != 0 || (res = mysql_store_result(my)) ==
	    NULL) {
		db_fail(d, "catalog");
		ctl_err("mysql: %s", d->errstr);
		if (strstr(d->errstr, "Unknown column") != NULL ||
		    strstr(d->errstr, "doesn't exist") != NULL)
			ctl_err("the database schema is older than ticketctl: "
			    "apply sql/migrations/*.sql (scripts/stack does on "
			    "`make up`)");
		return -1;
	}
	while (r == 0 && (row = mysql_fetch_row(res)) != NULL)
		r = fn(row, arg);
	mysql_free_result(res);
	if (r != 0)
		ctl_err("mysql: a catalog row is not valid");
	return r;
}

static int
num(const char *s, long long *v)
{
	char *end;

	if (s == NULL)
		return -1;
	*v = strtoll(s, &end, 10);
	return end == s || *end != '\0' ? -1 : 0;
}

static int
row_venue(MYSQL_ROW row, void *arg)
{
	struct catdoc		*doc = arg;
	struct catdoc_venue	*v, *p;

	if ((p = reallocarray(doc->venues, doc->nvenues + 1, sizeof(*p))) ==
	    NULL)
		return -1;
	doc->venues = p;
	v = memset(&p[doc->nvenues++], 0, sizeof(*v));
	if (!valid_id(row[0]) || row[1] == NULL || strlen(row[1]) >
	    CATDOC_NAME_MAX)
		return -1;
	snprintf(v->id, sizeof(v->id), "%s", row[0]);
	snprintf(v->name, sizeof(v->name), "%s", row[1]);
	return 0;
}

static int
row_zone(MYSQL_ROW row, void *arg)
{
	struct catdoc		*doc = arg;
	struct catdoc_venue	*v;
	struct catdoc_zone	*p;
	long long		 zone, rows, cols;
	size_t			 i;

	for (i = 0; i < doc->nvenues; i++)
		if (strcmp(doc->venues[i].id, row[0]) == 0)
			break;
	if (i == doc->nvenues || num(row[1], &zone) != 0 ||
	    num(row[2], &rows) != 0 || num(row[3], &cols) != 0)
		return -1;
	v = &doc->venues[i];
	if ((p = reallocarray(v->zones, v->nzones + 1, sizeof(*p))) == NULL)
		return -1;
	v->zones = p;
	p = &p[v->nzones++];
	p->zone = (long)zone;
	p->rows = (long)rows;
	p->cols = (long)cols;
	return catdoc_cents(row[4], &p->cents);
}

static int
row_event(MYSQL_ROW row, void *arg)
{
	struct catdoc		*doc = arg;
	struct catdoc_event	*e, *p;

	if ((p = reallocarray(doc->events, doc->nevents + 1, sizeof(*p))) ==
	    NULL)
		return -1;
	doc->events = p;
	e = memset(&p[doc->nevents++], 0, sizeof(*e));
	if (!valid_id(row[0]) || !valid_id(row[1]) || row[2] == NULL ||
	    strlen(row[2]) > CATDOC_NAME_MAX || row[3] == NULL ||
	    strlen(row[3]) > CATDOC_TYPE_MAX || num(row[4], &e->date_ms) != 0)
		return -1;
	snprintf(e->id, sizeof(e->id), "%s", row[0]);
	snprintf(e->venue, sizeof(e->venue), "%s", row[1]);
	snprintf(e->name, sizeof(e->name), "%s", row[2]);
	snprintf(e->type, sizeof(e->type), "%s", row[3]);
	e->cancelled = row[5] != NULL && strcmp(row[5], "CANCELLED") == 0;
	if (row[6] == NULL)
		e->closes_ms = -1;
	else if (num(row[6], &e->closes_ms) != 0)
		return -1;
	return 0;
}

static int
row_onsale(MYSQL_ROW row, void *arg)
{
	struct catdoc		*doc = arg;
	struct catdoc_event	*e;
	struct catdoc_onsale	*p;
	long long		 from, to;

	if ((e = catdoc_event(doc, row[0])) == NULL ||
	    num(row[1], &from) != 0 || num(row[2], &to) != 0)
		return -1;
	if ((p = reallocarray(e->onsale, e->nonsale + 1, sizeof(*p))) == NULL)
		return -1;
	e->onsale = p;
	p = &p[e->nonsale++];
	p->from = (long)from;
	p->to = (long)to;
	return num(row[3], &p->opens_ms);
}

#define MS_OF(col) "TIMESTAMPDIFF(MICROSECOND, '1970-01-01', " col ") DIV 1000"

int
catalog_current(struct ctl *ctl, struct db *d, struct catdoc *doc)
{
	char err[256] = "";

	(void)ctl;
	memset(doc, 0, sizeof(*doc));
	if (each_row(d, "SELECT venue_id, name FROM venue ORDER BY venue_id",
	    row_venue, doc) != 0 ||
	    each_row(d, "SELECT venue_id, zone_id, row_count, col_count, price "
	    "FROM zone ORDER BY venue_id, zone_id", row_zone, doc) != 0 ||
	    each_row(d, "SELECT event_id, venue_id, name, type, "
	    MS_OF("event_date") ", status, " MS_OF("closes_at") " FROM event "
	    "ORDER BY event_id", row_event, doc) != 0)
		return -1;
	/* catdoc_event() needs the events sorted by the checker's order */
	if (catdoc_check(doc, err, sizeof(err)) != 0 ||
	    each_row(d, "SELECT event_id, from_zone, to_zone, "
	    MS_OF("opens_at") " FROM event_onsale ORDER BY event_id, "
	    "from_zone", row_onsale, doc) != 0) {
		if (err[0] != '\0')
			ctl_err("catalog in MySQL: %s", err);
		return -1;
	}
	if (catdoc_check(doc, err, sizeof(err)) != 0) {
		ctl_err("catalog in MySQL: %s", err);
		return -1;
	}
	return 0;
}

/* ------------------------------------------------------------- the plan */

/* One event zone written to Redis, for the undo after a failure. */
struct done {
	char	event[ID_MAX + 1];
	long	zone;
	int	dropped;	/* removed (else loaded) */
	int	may_create;	/* the undo may give it counters: it was
				   checked unsold (catalog_zone_load) */
};

struct apply {
	struct ctl		*ctl;
	struct db		*d;
	const struct catdoc	*old;
	const struct catdoc	*new;
	long			 created, changed, removed, refused;
	int			 failed;	/* a store failed */
	int			 have_flight;
	struct inflight		 flight;
	struct done		*done;
	size_t			 ndone;
};

static void
plan(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void
plan(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
}

/* Whether event zone (event, zone) shows a sale anywhere: 1 (why says
 * where), 0 if unsold, -1 if a store failed (printed, a->failed). */
static int
zone_sold(struct apply *a, const char *event, long zone, char *out,
    size_t outlen)
{
	char		 sql[256];
	MYSQL		*my;
	MYSQL_RES	*res;
	MYSQL_ROW	 row;
	long long	 in_mysql = -1;
	long		 taken;
	char		 why[192] = "";
	int		 fenced, seen;

	snprintf(sql, sizeof(sql), "SELECT COUNT(*) FROM ticket WHERE "
	    "event_id = '%s' AND zone_id = %ld", event, zone);
	if ((my = db_conn(a->d)) != NULL && mysql_query(my, sql) == 0 &&
	    (res = mysql_store_result(my)) != NULL) {
		if ((row = mysql_fetch_row(res)) != NULL)
			num(row[0], &in_mysql);
		mysql_free_result(res);
	}
	if (in_mysql < 0) {
		db_fail(a->d, "tickets");
		ctl_err("mysql: %s", a->d->errstr);
		a->failed = 1;
		return -1;
	}
	if ((taken = catalog_zone_taken(a->ctl, event, zone, &fenced,
	    &seen)) < 0) {
		ctl_err("redis: %s", a->ctl->rds.errstr);
		a->failed = 1;
		return -1;
	}
	/* Redis does not see every sale of it: then only an empty broker
	 * (nothing queued, held by a consumer or dead-lettered) says that
	 * no sale of it is on its way to MySQL */
	if (!seen && !fenced) {
		if (!a->have_flight) {
			if (catalog_in_flight(a->ctl, &a->flight) != 0) {
				a->failed = 1;
				return -1;
			}
			a->have_flight = 1;
		}
		sold_inflight_none(&a->flight, why, sizeof(why));
	}
	if (in_mysql == 0 && taken == 0 && why[0] == '\0' && !fenced)
		return 0;
	snprintf(out, outlen, "%s zone %ld is sold (%lld ticket(s) in MySQL, "
	    "%ld seat(s) taken or pending in Redis%s%s)", event, zone,
	    in_mysql, taken, fenced ? "; its Redis counters are fenced, sales "
	    "unknown until `ticketctl rebuild`" : why[0] != '\0' ? "; Redis "
	    "may not see all its sales and some may be on their way: " : "",
	    fenced ? "" : why);
	return 1;
}

/* Refuses the item what if event zone (event, zone) shows a sale anywhere.
 * Returns 1 if refused (printed), 0 if unsold. */
static int
refuse_if_sold(struct apply *a, const char *what, const char *event,
    long zone)
{
	char	why[512];
	int	r;

	if ((r = zone_sold(a, event, zone, why, sizeof(why))) == 0)
		return 0;
	if (r > 0) {
		a->refused++;
		ctl_err("refused: %s: %s", what, why);
	}
	return 1;
}

/* Refuses what if any zone of event e (at its old venue) is sold. */
static void
refuse_event_if_sold(struct apply *a, const char *what,
    const struct catdoc_event *e)
{
	const struct catdoc_venue	*v = catdoc_venue(a->old, e->venue);
	size_t				 k;

	for (k = 0; v != NULL && k < v->nzones && !a->failed; k++)
		refuse_if_sold(a, what, e->id, v->zones[k].zone);
}

/*
 * 1 if Redis holds event's zone nz of venue as the new document has it
 * while the catalog (MySQL) has it otherwise: an apply whose undo failed
 * because the zone sold as that apply had made it (undo_redis).  Its
 * sales are all at those values (load_zone.lua changes no zone with a
 * trace of a sale, and the apply checked it unsold), so the change only
 * records in MySQL what Redis sells.  -1 on a Redis failure (printed).
 */
static int
redis_sells_as_new(struct apply *a, const char *event, const char *venue,
    const struct catdoc_zone *nz)
{
	char	held[160], want[160], price[CATDOC_PRICE_LEN];

	if (catalog_zone_held(a->ctl, event, nz->zone, held,
	    sizeof(held)) != 0) {
		ctl_err("redis: %s", a->ctl->rds.errstr);
		a->failed = 1;
		return -1;
	}
	catdoc_price(nz->cents, price);
	snprintf(want, sizeof(want), "%s %ldx%ld at %s", venue, nz->rows,
	    nz->cols, price);
	return strcmp(held, want) == 0;
}

/* Refuses what if zone of venue is sold in any event there (old doc);
 * for a change to nz (NULL: a removal), not in an event whose zone Redis
 * sells as nz already (redis_sells_as_new()). */
static void
refuse_zone_if_sold(struct apply *a, const char *what, const char *venue,
    long zone, const struct catdoc_zone *nz)
{
	const char	*ev;
	size_t		 i;
	int		 same;

	for (i = 0; i < a->old->nevents && !a->failed; i++) {
		ev = a->old->events[i].id;
		if (strcmp(a->old->events[i].venue, venue) != 0)
			continue;
		if (nz != NULL && (same = redis_sells_as_new(a, ev, venue,
		    nz)) != 0) {
			if (same > 0)
				plan("  %s zone %ld: Redis sells it so already "
				    "(an apply whose undo failed): recorded",
				    ev, zone);
			continue;
		}
		refuse_if_sold(a, what, ev, zone);
	}
}

static void
plan_zones(struct apply *a, const struct catdoc_venue *ov,
    const struct catdoc_venue *nv)
{
	const struct catdoc_zone	*oz, *nz;
	char				 what[160], p1[CATDOC_PRICE_LEN];
	char				 p2[CATDOC_PRICE_LEN];
	size_t				 k;

	for (k = 0; k < nv->nzones; k++) {
		nz = &nv->zones[k];
		catdoc_price(nz->cents, p2);
		if ((oz = catdoc_zone(ov, nz->zone)) == NULL) {
			plan("create zone %s/%ld: %ldx%ld at %s", nv->id,
			    nz->zone, nz->rows, nz->cols, p2);
			a->created++;
			continue;
		}
		if (oz->rows == nz->rows && oz->cols == nz->cols &&
		    oz->cents == nz->cents)
			continue;
		catdoc_price(oz->cents, p1);
		snprintf(what, sizeof(what), "change zone %s/%ld: %ldx%ld at "
		    "%s -> %ldx%ld at %s", nv->id, nz->zone, oz->rows,
		    oz->cols, p1, nz->rows, nz->cols, p2);
		plan("%s", what);
		a->changed++;
		refuse_zone_if_sold(a, what, nv->id, nz->zone, nz);
	}
	for (k = 0; ov != NULL && k < ov->nzones; k++) {
		if (catdoc_zone(nv, ov->zones[k].zone) != NULL)
			continue;
		snprintf(what, sizeof(what), "remove zone %s/%ld", ov->id,
		    ov->zones[k].zone);
		plan("%s", what);
		a->removed++;
		refuse_zone_if_sold(a, what, ov->id, ov->zones[k].zone, NULL);
	}
}

static void
plan_venues(struct apply *a)
{
	const struct catdoc_venue	*ov, *nv;
	size_t				 i;

	for (i = 0; i < a->new->nvenues; i++) {
		nv = &a->new->venues[i];
		if ((ov = catdoc_venue(a->old, nv->id)) == NULL) {
			plan("create venue %s", nv->id);
			a->created++;
		} else if (strcmp(ov->name, nv->name) != 0) {
			plan("change venue %s: name", nv->id);
			a->changed++;
		}
		plan_zones(a, ov, nv);
	}
	for (i = 0; i < a->old->nvenues; i++)
		if (catdoc_venue(a->new, a->old->venues[i].id) == NULL) {
			/* its events go too (the document was checked):
			 * their sales are refused there */
			plan("remove venue %s (%zu zone(s))",
			    a->old->venues[i].id, a->old->venues[i].nzones);
			a->removed++;
		}
}

static int
same_windows(const struct catdoc_event *x, const struct catdoc_event *y)
{
	size_t k;

	if (x->nonsale != y->nonsale)
		return 0;
	for (k = 0; k < x->nonsale; k++)
		if (x->onsale[k].from != y->onsale[k].from ||
		    x->onsale[k].to != y->onsale[k].to ||
		    x->onsale[k].opens_ms != y->onsale[k].opens_ms)
			return 0;
	return 1;
}

static void
plan_events(struct apply *a)
{
	const struct catdoc_event	*oe, *ne;
	char				 what[160], fields[160];
	size_t				 i;

	for (i = 0; i < a->new->nevents; i++) {
		ne = &a->new->events[i];
		if ((oe = catdoc_event(a->old, ne->id)) == NULL) {
			plan("create event %s at %s", ne->id, ne->venue);
			a->created++;
			continue;
		}
		snprintf(fields, sizeof(fields), "%s%s%s%s%s%s%s",
		    strcmp(oe->venue, ne->venue) ? " venue" : "",
		    strcmp(oe->name, ne->name) ? " name" : "",
		    strcmp(oe->type, ne->type) ? " type" : "",
		    oe->date_ms != ne->date_ms ? " date" : "",
		    oe->cancelled != ne->cancelled ? (ne->cancelled ?
		    " status CANCELLED" : " status SCHEDULED") : "",
		    oe->closes_ms != ne->closes_ms ? " closesAt" : "",
		    !same_windows(oe, ne) ? " onSale" : "");
		if (fields[0] == '\0')
			continue;
		fmt_trunc(what, sizeof(what), "change event %s:%s", ne->id,
		    fields);
		plan("%s", what);
		a->changed++;
		if (strcmp(oe->venue, ne->venue) != 0)
			refuse_event_if_sold(a, what, oe);
	}
	for (i = 0; i < a->old->nevents; i++) {
		oe = &a->old->events[i];
		if (catdoc_event(a->new, oe->id) != NULL)
			continue;
		snprintf(what, sizeof(what), "remove event %s", oe->id);
		plan("%s", what);
		a->removed++;
		refuse_event_if_sold(a, what, oe);
	}
}

/* ------------------------------------------------------- writing MySQL */

/* ms as a DATETIME(3) literal in UTC. */
static void
datetime(long long ms, char out[32])
{
	time_t		secs = (time_t)(ms / 1000);
	struct tm	tm;

	gmtime_r(&secs, &tm);
	/* years 0000-9999 (WHEN_MS_MAX): always fits */
	if (snprintf(out, 32, "'%04d-%02d-%02d %02d:%02d:%02d.%03d'",
	    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
	    tm.tm_min, tm.tm_sec, (int)(ms % 1000)) >= 32)
		out[0] = '\0';
}

/* Runs one printf-built statement; returns 0 or -1 (printed). */
static int
exec(struct apply *a, const char *fmt, ...) __attribute__((format(printf,
    2, 3)));

static int
exec(struct apply *a, const char *fmt, ...)
{
	char	sql[SQL_MAX];
	va_list	ap;
	int	n;

	va_start(ap, fmt);
	n = vsnprintf(sql, sizeof(sql), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(sql)) {
		ctl_err("mysql: statement too long");
		return -1;
	}
	if (db_exec(a->d, sql) < 0) {
		ctl_err("mysql: %s", a->d->errstr);
		return -1;
	}
	return 0;
}

/* s escaped for a quoted SQL string (out has 2 * strlen(s) + 1 bytes). */
static const char *
esc(struct apply *a, const char *s, char *out)
{
	mysql_real_escape_string(a->d->my, out, s, strlen(s));
	return out;
}

static int
write_venues(struct apply *a)
{
	const struct catdoc_venue	*v, *ov;
	const struct catdoc_zone	*z;
	char				 name[2 * CATDOC_NAME_MAX + 1];
	char				 price[CATDOC_PRICE_LEN];
	size_t				 i, k;

	for (i = 0; i < a->new->nvenues; i++) {
		v = &a->new->venues[i];
		if (exec(a, "INSERT INTO venue (venue_id, name) VALUES ('%s', "
		    "'%s') ON DUPLICATE KEY UPDATE name = VALUES(name)", v->id,
		    esc(a, v->name, name)) != 0)
			return -1;
		for (k = 0; k < v->nzones; k++) {
			z = &v->zones[k];
			catdoc_price(z->cents, price);
			if (exec(a, "INSERT INTO zone (venue_id, zone_id, price, "
			    "row_count, col_count) VALUES ('%s', %ld, %s, %ld, "
			    "%ld) ON DUPLICATE KEY UPDATE price = VALUES(price), "
			    "row_count = VALUES(row_count), col_count = "
			    "VALUES(col_count)", v->id, z->zone, price, z->rows,
			    z->cols) != 0)
				return -1;
		}
	}
	/* removed zones (events leave first: write_events ran before) */
	for (i = 0; i < a->old->nvenues; i++) {
		ov = &a->old->venues[i];
		v = catdoc_venue(a->new, ov->id);
		for (k = 0; k < ov->nzones; k++)
			if (catdoc_zone(v, ov->zones[k].zone) == NULL &&
			    exec(a, "DELETE FROM zone WHERE venue_id = '%s' AND "
			    "zone_id = %ld", ov->id, ov->zones[k].zone) != 0)
				return -1;
		if (v == NULL && exec(a, "DELETE FROM venue WHERE venue_id = "
		    "'%s'", ov->id) != 0)
			return -1;
	}
	return 0;
}

static int
write_event(struct apply *a, const struct catdoc_event *e)
{
	char	name[2 * CATDOC_NAME_MAX + 1], type[2 * CATDOC_TYPE_MAX + 1];
	char	date[32], closes[32] = "NULL", opens[32];
	size_t	k;

	datetime(e->date_ms, date);
	if (e->closes_ms >= 0)
		datetime(e->closes_ms, closes);
	if (exec(a, "INSERT INTO event (event_id, venue_id, name, type, "
	    "event_date, status, closes_at) VALUES ('%s', '%s', '%s', '%s', %s, "
	    "'%s', %s) ON DUPLICATE KEY UPDATE venue_id = VALUES(venue_id), "
	    "name = VALUES(name), type = VALUES(type), event_date = "
	    "VALUES(event_date), status = VALUES(status), closes_at = "
	    "VALUES(closes_at)", e->id, e->venue, esc(a, e->name, name),
	    esc(a, e->type, type), date, e->cancelled ? "CANCELLED" :
	    "SCHEDULED", closes) != 0 ||
	    exec(a, "DELETE FROM event_onsale WHERE event_id = '%s'",
	    e->id) != 0)
		return -1;
	for (k = 0; k < e->nonsale; k++) {
		datetime(e->onsale[k].opens_ms, opens);
		if (exec(a, "INSERT INTO event_onsale (event_id, from_zone, "
		    "to_zone, opens_at) VALUES ('%s', %ld, %ld, %s)", e->id,
		    e->onsale[k].from, e->onsale[k].to, opens) != 0)
			return -1;
	}
	return 0;
}

/* Venues and zones first (events refer to them), removals last. */
static int
write_mysql(struct apply *a)
{
	size_t i;

	for (i = 0; i < a->new->nvenues; i++)
		if (exec(a, "INSERT IGNORE INTO venue (venue_id, name) VALUES "
		    "('%s', '')", a->new->venues[i].id) != 0)
			return -1;
	for (i = 0; i < a->new->nevents; i++)
		if (write_event(a, &a->new->events[i]) != 0)
			return -1;
	for (i = 0; i < a->old->nevents; i++)
		if (catdoc_event(a->new, a->old->events[i].id) == NULL &&
		    exec(a, "DELETE FROM event WHERE event_id = '%s'",
		    a->old->events[i].id) != 0)
			return -1;
	return write_venues(a);
}

/* ------------------------------------------------------- writing Redis */

/* The event zone (e, z) as Redis holds it. */
static void
zone_of(const struct catdoc_event *e, const struct catdoc_zone *z,
    struct catalog_zone *cz)
{
	memset(cz, 0, sizeof(*cz));
	snprintf(cz->event, sizeof(cz->event), "%s", e->id);
	snprintf(cz->venue, sizeof(cz->venue), "%s", e->venue);
	cz->zone = z->zone;
	cz->rows = z->rows;
	cz->cols = z->cols;
	catdoc_price(z->cents, cz->price);
	cz->cancelled = e->cancelled;
	cz->opens_ms = catdoc_opens(e, z->zone);
	cz->closes_ms = e->closes_ms;
}

/* The zone of event id in doc, or NULL. */
static const struct catdoc_zone *
doc_zone(const struct catdoc *doc, const char *event, long zone,
    const struct catdoc_event **e)
{
	if ((*e = catdoc_event(doc, event)) == NULL)
		return NULL;
	return catdoc_zone(catdoc_venue(doc, (*e)->venue), zone);
}

/* How a zone the apply checked unsold (may) may get fresh counters. */
static enum catz_create
create_of(int may)
{
	return may ? CATZ_CREATE_CHECKED : CATZ_CREATE_NEVER;
}

/* Whether the zone was checked unsold (new, or venue/shape/price changed):
 * then it may get fresh counters. */
static int
may_create(const struct apply *a, const struct catalog_zone *cz)
{
	const struct catdoc_event	*oe;
	const struct catdoc_zone	*oz;
	struct catalog_zone		 old;

	if ((oz = doc_zone(a->old, cz->event, cz->zone, &oe)) == NULL)
		return 1;
	zone_of(oe, oz, &old);
	return strcmp(old.venue, cz->venue) != 0 || old.rows != cz->rows ||
	    old.cols != cz->cols || strcmp(old.price, cz->price) != 0;
}

static int
record(struct apply *a, const char *event, long zone, int dropped,
    int may)
{
	struct done *p;

	if ((p = reallocarray(a->done, a->ndone + 1, sizeof(*p))) == NULL)
		return -1;
	a->done = p;
	p = &p[a->ndone++];
	snprintf(p->event, sizeof(p->event), "%s", event);
	p->zone = zone;
	p->dropped = dropped;
	p->may_create = may;
	return 0;
}

/*
 * Zone cz, which the document does not change, has another venue, shape or
 * price in Redis than in the catalog: an apply whose undo failed left it
 * (undo_redis).  Checked unsold like a changed zone, it is loaded as the
 * catalog has it; with a sale it is refused (seats and prices sold stay as
 * Redis has them).  Returns the load's answer, or CATZ_SOLD (printed).
 */
static enum catz
repair(struct apply *a, const struct catalog_zone *cz, int *may)
{
	char	held[160], what[sizeof(cz->event) + 96];

	if (catalog_zone_held(a->ctl, cz->event, cz->zone, held,
	    sizeof(held)) != 0) {
		ctl_err("redis: %s", a->ctl->rds.errstr);
		return CATZ_ERROR;
	}
	printf("%s zone %ld: Redis holds %s, the catalog %s %ldx%ld at %s "
	    "(an apply whose undo failed?): put back as the catalog has it\n",
	    cz->event, cz->zone, held, cz->venue, cz->rows, cz->cols,
	    cz->price);
	snprintf(what, sizeof(what), "put %s zone %ld back as the catalog has "
	    "it", cz->event, cz->zone);
	if (refuse_if_sold(a, what, cz->event, cz->zone)) {
		if (!a->failed)
			ctl_err("%s zone %ld sold as Redis holds it (%s): give "
			    "it that venue, shape and price in the catalog "
			    "(with `ticketctl rebuild` after, for a shape), or "
			    "put Redis's back by hand", cz->event, cz->zone,
			    held);
		return CATZ_SOLD;
	}
	*may = 1;
	return catalog_zone_load(a->ctl, cz, CATZ_CREATE_CHECKED);
}

/*
 * Zone cz, which the document does not change, has no counters in Redis
 * (its load refused to create them).  If it has no catalog hash either, an
 * apply whose undo failed removed it (or its node lost everything): it
 * would answer 404 for good.  Checked unsold, it gets counters; with a sale
 * it is left without (sales unknown: `ticketctl rebuild`).  Returns the
 * load's answer, CATZ_NO_COUNT, or CATZ_ERROR (printed).
 */
static enum catz
missing(struct apply *a, const struct catalog_zone *cz)
{
	char	held[160], why[512];
	int	sold;

	if (catalog_zone_held(a->ctl, cz->event, cz->zone, held,
	    sizeof(held)) != 0)
		return CATZ_ERROR;
	if (strcmp(held, "nothing") != 0)
		return CATZ_NO_COUNT;
	if ((sold = zone_sold(a, cz->event, cz->zone, why, sizeof(why))) < 0)
		return CATZ_ERROR;	/* printed, a->failed */
	if (sold)
		return CATZ_NO_COUNT;
	printf("%s zone %ld: not in Redis (an apply whose undo failed?), "
	    "unsold: loaded\n", cz->event, cz->zone);
	return catalog_zone_load(a->ctl, cz, CATZ_CREATE_CHECKED);
}

/* Loads every event zone of the new document and drops those it lost.
 * Returns 0, or -1 (printed; the caller undoes what was recorded). */
static int
write_redis(struct apply *a, long *loaded, long *dropped, long *fenced)
{
	const struct catdoc_event	*e, *ne;
	const struct catdoc_venue	*v;
	struct catalog_zone		 cz;
	size_t				 i, k;
	enum catz			 r;
	int				 may;

	for (i = 0; i < a->old->nevents; i++) {
		e = &a->old->events[i];
		v = catdoc_venue(a->old, e->venue);
		for (k = 0; v != NULL && k < v->nzones; k++) {
			zone_of(e, &v->zones[k], &cz);
			if (doc_zone(a->new, e->id, cz.zone, &ne) != NULL &&
			    strcmp(ne->venue, e->venue) == 0)
				continue;
			if (record(a, e->id, cz.zone, 1, 1) != 0)
				return -1;
			if ((r = catalog_zone_drop(a->ctl, e->id, cz.zone)) ==
			    CATZ_SOLD) {
				ctl_err("%s zone %ld sold while the catalog "
				    "was applied: nothing changed", e->id,
				    cz.zone);
				return -1;
			}
			if (r == CATZ_ERROR) {
				ctl_err("redis: %s", a->ctl->rds.errstr);
				return -1;
			}
			*dropped += r == CATZ_CREATED;
		}
	}
	for (i = 0; i < a->new->nevents; i++) {
		e = &a->new->events[i];
		v = catdoc_venue(a->new, e->venue);
		for (k = 0; k < v->nzones; k++) {
			zone_of(e, &v->zones[k], &cz);
			may = may_create(a, &cz);
			if (record(a, e->id, cz.zone, 0, may) != 0)
				return -1;
			r = catalog_zone_load(a->ctl, &cz, create_of(may));
			if (r == CATZ_SOLD && !may) {
				if ((r = repair(a, &cz, &may)) == CATZ_SOLD) {
					a->ndone--;	/* nothing written */
					return -1;
				}
				a->done[a->ndone - 1].may_create = may;
			}
			if (r == CATZ_NO_COUNT && !may &&
			    (r = missing(a, &cz)) == CATZ_CREATED)
				a->done[a->ndone - 1].may_create = 1;
			if (r == CATZ_SOLD) {
				a->ndone--;	/* nothing written */
				ctl_err("%s zone %ld sold (or fenced: sales "
				    "unknown) while the catalog was applied",
				    e->id, cz.zone);
				return -1;
			}
			if (r == CATZ_ERROR) {
				if (!a->failed)
					ctl_err("redis: %s",
					    a->ctl->rds.errstr);
				return -1;
			}
			if (r == CATZ_NO_COUNT)
				(*fenced)++;
			(*loaded)++;
		}
	}
	return 0;
}

/* Puts the zones written back as the old document has them.  Counters
 * are given back only to a zone the apply checked unsold (removed, or its
 * venue, shape or price changed): a zone without counters that was only
 * reloaded stays without (a node that lost its data: full counters beside
 * the seats sold in MySQL would sell them again).  Returns how many zones
 * could not be put back (printed, each with the way out). */
static int
undo_redis(struct apply *a)
{
	const struct catdoc_event	*oe, *ne;
	const struct catdoc_zone	*oz, *nz;
	struct catalog_zone		 cz;
	char				 price[CATDOC_PRICE_LEN];
	size_t				 i;
	enum catz			 r;
	int				 left = 0;

	for (i = a->ndone; i-- > 0;) {
		oz = doc_zone(a->old, a->done[i].event, a->done[i].zone, &oe);
		if (oz == NULL)
			r = catalog_zone_drop(a->ctl, a->done[i].event,
			    a->done[i].zone);
		else {
			zone_of(oe, oz, &cz);
			r = catalog_zone_load(a->ctl, &cz,
			    create_of(a->done[i].may_create));
		}
		if (r != CATZ_ERROR && r != CATZ_SOLD)
			continue;
		left++;
		nz = doc_zone(a->new, a->done[i].event, a->done[i].zone, &ne);
		if (r == CATZ_SOLD && nz != NULL) {
			/* sold as this apply made it: Redis keeps it so */
			catdoc_price(nz->cents, price);
			ctl_err("%s zone %ld sold while the catalog was "
			    "applied, as the new catalog has it (%s %ldx%ld "
			    "at %s): Redis sells it so; record it with an "
			    "apply of a catalog that has it so%s",
			    a->done[i].event, a->done[i].zone, ne->venue,
			    nz->rows, nz->cols, price, oz == NULL ?
			    " (its event and zone are not in MySQL)" : "");
		} else
			ctl_err("could not put %s zone %ld back in Redis (%s): "
			    "run `ticketctl catalog apply` of the previous "
			    "catalog (`catalog show`)", a->done[i].event,
			    a->done[i].zone, r == CATZ_SOLD ? catz_str(r) :
			    a->ctl->rds.errstr);
	}
	return left;
}

/* ---------------------------------------------------------------- apply */

/* 1 if d's connection still holds the catalog lock (a connection lost
 * and opened again does not), 0 if not, -1 (d's errstr set). */
int
catalog_lock_held(struct db *d)
{
	MYSQL		*my;
	MYSQL_RES	*res;
	MYSQL_ROW	 row;
	int		 held;

	if ((my = db_conn(d)) == NULL)
		return -1;
	if (mysql_query(my, "SELECT IS_USED_LOCK('" LOCK_NAME "') = "
	    "CONNECTION_ID()") != 0 || (res = mysql_store_result(my)) == NULL)
		return db_fail(d, "lock");
	held = (row = mysql_fetch_row(res)) != NULL && row[0] != NULL &&
	    strcmp(row[0], "1") == 0;
	mysql_free_result(res);
	return held;
}

int
catalog_lock(struct db *d)
{
	char		 q[96];
	MYSQL		*my;
	MYSQL_RES	*res;
	MYSQL_ROW	 row;
	int		 ok = 0, each, waited;

	/* a second at a time (none if the connection's read timeout is
	 * shorter): one GET_LOCK of 30 s would outlast mysql_timeout_ms and
	 * fail as a lost connection */
	each = d->timeout_ms >= 2000 ? 1 : 0;
	snprintf(q, sizeof(q), "SELECT GET_LOCK('" LOCK_NAME "', %d)", each);
	for (waited = 0; !ok && waited <= LOCK_WAIT_MS;
	    waited += each ? 1000 : 200) {
		if (waited > 0 && !each)
			usleep(200 * 1000);
		if ((my = db_conn(d)) == NULL)
			return -1;
		if (mysql_query(my, q) != 0 ||
		    (res = mysql_store_result(my)) == NULL)
			return db_fail(d, "lock");
		if ((row = mysql_fetch_row(res)) != NULL && row[0] != NULL)
			ok = strcmp(row[0], "1") == 0;
		mysql_free_result(res);
	}
	if (!ok)
		snprintf(d->errstr, sizeof(d->errstr), "another ticketctl "
		    "holds the catalog lock (waited %d s)", LOCK_WAIT_MS / 1000);
	return ok ? 0 : -1;
}

/* 1 if x and y are the same catalog (as `catalog show` writes them), 0
 * if not, -1 (out of memory). */
static int
same_catalog(const struct catdoc *x, const struct catdoc *y)
{
	char	*bx = NULL, *by = NULL;
	size_t	 nx = 0, ny = 0;
	FILE	*fx, *fy;
	int	 r = -1;

	if ((fx = open_memstream(&bx, &nx)) != NULL) {
		if ((fy = open_memstream(&by, &ny)) != NULL) {
			if (catdoc_write(x, fx) == 0 &&
			    catdoc_write(y, fy) == 0 && fflush(fx) == 0 &&
			    fflush(fy) == 0)
				r = nx == ny && memcmp(bx, by, nx) == 0;
			fclose(fy);
		}
		fclose(fx);
	}
	free(bx);
	free(by);
	return r;
}

/*
 * After a COMMIT that failed: whether MySQL committed all the same, its
 * answer lost with the connection.  An answer (an error) means it did
 * not.  Else a new connection takes the catalog lock, free once the old
 * session has ended (committed or rolled back), and compares MySQL's
 * catalog with the new one.  Returns 1 (committed), 0 (not), or -1 (cannot
 * tell: MySQL does not answer, or the old session holds the lock still;
 * printed).
 */
static int
committed(struct apply *a)
{
	struct catdoc	now;
	int		r;

	if (a->d->err != ERR_IO)
		return 0;
	db_close(a->d);
	if (catalog_lock(a->d) != 0) {
		ctl_err("mysql: %s", a->d->errstr);
		return -1;
	}
	r = catalog_current(a->ctl, a->d, &now) != 0 ? -1 :
	    same_catalog(&now, a->new);
	catdoc_free(&now);
	return r;
}

/* After a failure before the commit: puts Redis back, rolls MySQL back. */
static int
not_applied(struct apply *a)
{
	int left = undo_redis(a);

	db_exec(a->d, "ROLLBACK");
	if (left == 0)
		ctl_err("catalog not applied; the previous one is in force");
	else
		ctl_err("catalog not applied in MySQL; %d event zone(s) not "
		    "put back in Redis (above)", left);
	return CTL_FAIL;
}

static int
apply_locked(struct apply *a, int dry_run)
{
	long	loaded = 0, dropped = 0, fenced = 0;
	int	c = 0;

	plan_venues(a);
	plan_events(a);
	if (a->failed)
		return CTL_FAIL;
	if (a->refused > 0) {
		ctl_err("catalog refused: %ld item(s) sold; nothing changed",
		    a->refused);
		return CTL_FAIL;
	}
	printf("catalog: %ld created, %ld changed, %ld removed\n", a->created,
	    a->changed, a->removed);
	if (dry_run) {
		printf("dry run: nothing changed\n");
		return CTL_OK;
	}
	if (exec(a, "START TRANSACTION") != 0)
		return CTL_FAIL;
	if (write_mysql(a) != 0 ||
	    write_redis(a, &loaded, &dropped, &fenced) != 0)
		return not_applied(a);
	/* a COMMIT whose answer was lost may have committed: then Redis
	 * must keep the new catalog (put back, it would sell an event MySQL
	 * removed or cancelled, and the same apply again would find nothing
	 * to change); not knowing, Redis keeps it too: the same apply again
	 * writes what MySQL lacks */
	if (exec(a, "COMMIT") != 0 && (c = committed(a)) == 0)
		return not_applied(a);
	if (c < 0) {
		ctl_err("could not tell whether MySQL took the catalog (the "
		    "answer to COMMIT was lost): Redis has the new one; apply "
		    "it again once MySQL answers");
		return CTL_FAIL;
	}
	if (c > 0)
		ctl_err("warning: the answer to COMMIT was lost, but MySQL "
		    "has the new catalog: applied");
	printf("redis: %ld event zone(s) loaded, %ld removed\n", loaded,
	    dropped);
	if (fenced > 0)
		ctl_err("warning: %ld event zone(s) have no counters in Redis "
		    "and sell nothing until `ticketctl rebuild`", fenced);
	return CTL_OK;
}

/* catalog_apply() of doc, or with edit of the current catalog read into
 * doc under the lock. */
static int
apply(struct ctl *ctl, struct catdoc *doc,
    int (*edit)(struct catdoc *, void *), void *arg, int dry_run)
{
	struct apply	a;
	struct catdoc	old;
	struct db	d;
	int		ret = CTL_FAIL;

	memset(&a, 0, sizeof(a));
	memset(&old, 0, sizeof(old));
	catalog_db_open(ctl, &d);
	if (catalog_lock(&d) != 0) {
		ctl_err("mysql: %s", d.errstr);
		db_close(&d);
		return CTL_FAIL;
	}
	if (catalog_current(ctl, &d, &old) == 0 && (edit == NULL ||
	    (catalog_current(ctl, &d, doc) == 0 && edit(doc, arg) == 0))) {
		a.ctl = ctl;
		a.d = &d;
		a.old = &old;
		a.new = doc;
		ret = apply_locked(&a, dry_run);
	}
	catdoc_free(&old);
	free(a.done);
	db_close(&d);	/* releases the lock */
	return ret;
}

int
catalog_apply(struct ctl *ctl, struct catdoc *doc, int dry_run)
{
	return apply(ctl, doc, NULL, NULL, dry_run);
}

int
catalog_edit(struct ctl *ctl, struct catdoc *doc,
    int (*edit)(struct catdoc *, void *), void *arg, int dry_run)
{
	memset(doc, 0, sizeof(*doc));
	return apply(ctl, doc, edit, arg, dry_run);
}

/* ------------------------------------------------------------- commands */

/* Reads a whole file of at most CATDOC_BYTES_MAX bytes ("-": stdin).
 * Returns a NUL-terminated buffer (free it) or NULL (printed). */
static char *
read_file(const char *path, size_t *len)
{
	FILE	*f = strcmp(path, "-") == 0 ? stdin : fopen(path, "r");
	char	*buf;
	size_t	 n;

	if (f == NULL) {
		ctl_err("%s: cannot open", path);
		return NULL;
	}
	if ((buf = malloc(CATDOC_BYTES_MAX + 1)) == NULL) {
		ctl_err("out of memory");
		if (f != stdin)
			fclose(f);
		return NULL;
	}
	n = fread(buf, 1, CATDOC_BYTES_MAX + 1, f);
	if (ferror(f) || n > CATDOC_BYTES_MAX) {
		ctl_err("%s: %s", path, ferror(f) ? "read error" :
		    "larger than the catalog cap");
		free(buf);
		buf = NULL;
	} else {
		buf[n] = '\0';
		*len = n;
	}
	if (f != stdin)
		fclose(f);
	return buf;
}

static int
catalog_show(struct ctl *ctl)
{
	struct catdoc	doc;
	struct db	d;
	int		ret = CTL_FAIL;

	catalog_db_open(ctl, &d);
	if (catalog_current(ctl, &d, &doc) == 0 && catdoc_write(&doc,
	    stdout) == 0)
		ret = CTL_OK;
	catdoc_free(&doc);
	db_close(&d);
	return ret;
}

static int
catalog_apply_file(struct ctl *ctl, const char *path, int dry_run)
{
	struct catdoc	 doc;
	char		*buf, err[256];
	size_t		 len = 0;
	int		 ret = CTL_FAIL;

	if ((buf = read_file(path, &len)) == NULL)
		return CTL_FAIL;
	if (catdoc_parse(buf, len, &doc, err, sizeof(err)) != 0)
		ctl_err("%s: %s", path, err);
	else
		ret = catalog_apply(ctl, &doc, dry_run);
	catdoc_free(&doc);
	free(buf);
	return ret;
}

/* Price tiers of the event's venue, most expensive first: each tier's
 * zones get one window each (contiguous zone ranges of that price). */
static int
stagger_event(struct catdoc *doc, struct catdoc_event *e, long long start,
    long long every)
{
	const struct catdoc_venue	*v = catdoc_venue(doc, e->venue);
	struct catdoc_onsale		*w;
	long long			 tier_cents = -1, opens = start;
	size_t				 k, n = 0, done = 0;

	if (v == NULL || v->nzones == 0)
		return -1;
	if ((w = calloc(v->nzones, sizeof(*w))) == NULL)
		return -1;
	/* highest price not yet given a window, tier by tier */
	while (done < v->nzones) {
		long long best = -1;

		for (k = 0; k < v->nzones; k++)
			if ((tier_cents < 0 || v->zones[k].cents < tier_cents) &&
			    v->zones[k].cents > best)
				best = v->zones[k].cents;
		for (k = 0; k < v->nzones; k++) {
			if (v->zones[k].cents != best)
				continue;
			done++;
			if (n > 0 && w[n - 1].opens_ms == opens &&
			    k > 0 && v->zones[k - 1].cents == best &&
			    w[n - 1].to == v->zones[k - 1].zone) {
				w[n - 1].to = v->zones[k].zone;
				continue;
			}
			w[n].from = w[n].to = v->zones[k].zone;
			w[n++].opens_ms = opens;
		}
		tier_cents = best;
		opens += every;
	}
	free(e->onsale);
	e->onsale = w;
	e->nonsale = n;
	return 0;
}

struct stagger {
	const char	*event;
	long long	 start, every;
};

/* catalog_edit() of catalog stagger: the windows of one event. */
static int
stagger_edit(struct catdoc *doc, void *arg)
{
	const struct stagger	*st = arg;
	struct catdoc_event	*e;

	if ((e = catdoc_event(doc, st->event)) == NULL) {
		ctl_err("event %s: not in the catalog", st->event);
		return -1;
	}
	if (stagger_event(doc, e, st->start, st->every) != 0) {
		ctl_err("event %s: its venue has no zones", st->event);
		return -1;
	}
	return 0;
}

static void
print_schedule(const struct catdoc *doc, const struct catdoc_event *e)
{
	const struct catdoc_venue	*v = catdoc_venue(doc, e->venue);
	const struct catdoc_zone	*z;
	char				 when[WHEN_LEN + 1];
	char				 price[CATDOC_PRICE_LEN];
	size_t				 k;

	printf("%-24s %-13s %s\n", "opensAt", "zones", "price");
	for (k = 0; k < e->nonsale; k++) {
		char zones[32];

		when_format(e->onsale[k].opens_ms, when);
		z = catdoc_zone(v, e->onsale[k].from);
		catdoc_price(z != NULL ? z->cents : 0, price);
		snprintf(zones, sizeof(zones), "%ld-%ld", e->onsale[k].from,
		    e->onsale[k].to);
		printf("%-24s %-13s %s\n", when, zones, price);
	}
}

static int
catalog_stagger(struct ctl *ctl, int argc, char **argv)
{
	struct catdoc		 doc;
	struct catdoc_event	*e;
	struct stagger		 st;
	long long		 start = -1, every = -1;
	int			 i, ret, dry_run = 0;

	if (argc < 2 || !valid_id(argv[1]))
		return ctl_usage(&cmd_catalog);
	for (i = 2; i < argc; i++) {
		if (strcmp(argv[i], "--dry-run") == 0)
			dry_run = 1;
		else if (strcmp(argv[i], "--start") == 0 && i + 1 < argc) {
			if (when_parse(argv[++i], &start) != 0) {
				ctl_err("--start: not an RFC 3339 time");
				return CTL_USAGE;
			}
		} else if (strcmp(argv[i], "--every") == 0 && i + 1 < argc) {
			if (when_duration(argv[++i], &every) != 0) {
				ctl_err("--every: a duration like 90s, 5m, 1h");
				return CTL_USAGE;
			}
		} else
			return ctl_usage(&cmd_catalog);
	}
	if (start < 0 || every < 0)
		return ctl_usage(&cmd_catalog);
	st.event = argv[1];
	st.start = start;
	st.every = every;
	if ((ret = catalog_edit(ctl, &doc, stagger_edit, &st, dry_run)) ==
	    CTL_OK && (e = catdoc_event(&doc, argv[1])) != NULL) {
		printf("%s: on sale by price, most expensive first\n", e->id);
		print_schedule(&doc, e);
	}
	catdoc_free(&doc);
	return ret;
}

static int
run_catalog(struct ctl *ctl, int argc, char **argv)
{
	if (argc == 2 && strcmp(argv[1], "show") == 0)
		return catalog_show(ctl);
	if (argc == 3 && strcmp(argv[1], "apply") == 0)
		return catalog_apply_file(ctl, argv[2], 0);
	if (argc == 4 && strcmp(argv[1], "apply") == 0 &&
	    strcmp(argv[3], "--dry-run") == 0)
		return catalog_apply_file(ctl, argv[2], 1);
	if (argc == 4 && strcmp(argv[1], "apply") == 0 &&
	    strcmp(argv[2], "--dry-run") == 0)
		return catalog_apply_file(ctl, argv[3], 1);
	if (argc >= 2 && strcmp(argv[1], "stagger") == 0)
		return catalog_stagger(ctl, argc - 1, argv + 1);
	return ctl_usage(&cmd_catalog);
}

const struct command cmd_catalog = {
	"catalog", run_catalog,
	"catalog show | apply FILE [--dry-run] | stagger EVENT --start TIME "
	"--every DURATION [--dry-run]",
	"show or change the catalog: venues, zones, events, sale windows",
	"show     prints the catalog (the JSON document of docs/catalog.md);\n"
	"         applying that output changes nothing.\n"
	"apply    makes MySQL and Redis match FILE (\"-\": stdin), all or\n"
	"         nothing: prints the plan (create/change/remove lines); a\n"
	"         zone's price or shape, or a zone or an event, changes or goes\n"
	"         only while nothing of it is sold (tickets in MySQL, seats\n"
	"         taken or pending in Redis, messages in ticketSQL): otherwise\n"
	"         every offending item is named, nothing changes, exit 1.\n"
	"         Names, dates, status, closesAt and onSale change at any time.\n"
	"         A zone's price is 0..9999999.99: ten seats, the largest\n"
	"         order, must fit an order's total (DECIMAL(10,2)).\n"
	"         --dry-run prints the plan and the refusals only.\n"
	"stagger  gives EVENT's zones onSale windows by price: the most\n"
	"         expensive tier opens at TIME (RFC 3339), each cheaper tier\n"
	"         DURATION (90s, 5m, 1h) later; prints the schedule.\n"
	"Redis checks the windows atomically with each purchase on its own\n"
	"clock: 403 NOT_ON_SALE before opensAt, 403 SALE_CLOSED after\n"
	"closesAt, 410 EVENT_CANCELLED (docs/deploy.md, the on-sale runbook).",
};
