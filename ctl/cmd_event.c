/* SPDX-License-Identifier: ISC */
/*
 * cmd_event.c - ticketctl event list | cancel EVENT (docs/api.md).
 *
 * cancel is a catalog change (status CANCELLED) applied like any other:
 * MySQL, then every zone of the event in Redis, where the reservation
 * script answers 410 from that moment.  Sold tickets stay as they are.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "catalog.h"
#include "when.h"

/* catalog_edit() of event cancel. */
static int
cancel_edit(struct catdoc *doc, void *arg)
{
	const char		*id = arg;
	struct catdoc_event	*e;

	if ((e = catdoc_event(doc, id)) == NULL) {
		ctl_err("event %s: not in the catalog", id);
		return -1;
	}
	e->cancelled = 1;
	return 0;
}

static int
event_cancel(struct ctl *ctl, const char *id)
{
	struct catdoc	doc;
	int		ret;

	/* the catalog is read under the lock: a change made meanwhile by
	 * another ticketctl is kept, not undone */
	if ((ret = catalog_edit(ctl, &doc, cancel_edit, (void *)id, 0)) ==
	    CTL_OK)
		printf("event %s: CANCELLED; every purchase answers 410, sold "
		    "tickets are kept\n", id);
	catdoc_free(&doc);
	return ret;
}

#define MS_OF(col) "TIMESTAMPDIFF(MICROSECOND, '1970-01-01', " col ") DIV 1000"

static int
event_list(struct ctl *ctl)
{
	static const char sql[] =
	    "SELECT e.event_id, e.venue_id, e.status, " MS_OF("e.event_date")
	    ", " MS_OF("e.closes_at") ", "
	    "(SELECT COUNT(*) FROM ticket t WHERE t.event_id = e.event_id AND "
	    "t.status <> 'CANCELLED'), "
	    "(SELECT COALESCE(SUM(z.row_count * z.col_count), 0) FROM zone z "
	    "WHERE z.venue_id = e.venue_id) FROM event e ORDER BY e.event_id";
	struct db	 d;
	MYSQL		*my;
	MYSQL_RES	*res;
	MYSQL_ROW	 row;
	char		 date[WHEN_LEN + 1], closes[WHEN_LEN + 1];

	catalog_db_open(ctl, &d);
	if ((my = db_conn(&d)) == NULL || mysql_query(my, sql) != 0 ||
	    (res = mysql_store_result(my)) == NULL) {
		if (my != NULL)
			db_fail(&d, "events");
		ctl_err("mysql: %s", d.errstr);
		db_close(&d);
		return CTL_FAIL;
	}
	printf("%-20s %-12s %-10s %-21s %-21s %8s %9s\n", "event", "venue",
	    "status", "date", "closesAt", "sold", "capacity");
	while ((row = mysql_fetch_row(res)) != NULL) {
		when_format(row[3] != NULL ? strtoll(row[3], NULL, 10) : 0,
		    date);
		if (row[4] != NULL)
			when_format(strtoll(row[4], NULL, 10), closes);
		else
			snprintf(closes, sizeof(closes), "-");
		printf("%-20s %-12s %-10s %-21s %-21s %8s %9s\n", row[0],
		    row[1], row[2], date, closes, row[5], row[6]);
	}
	mysql_free_result(res);
	db_close(&d);
	return CTL_OK;
}

static int
run_event(struct ctl *ctl, int argc, char **argv)
{
	if (argc == 2 && strcmp(argv[1], "list") == 0)
		return event_list(ctl);
	if (argc == 3 && strcmp(argv[1], "cancel") == 0) {
		if (!valid_id(argv[2])) {
			ctl_err("'%s' is not an event id", argv[2]);
			return CTL_USAGE;
		}
		return event_cancel(ctl, argv[2]);
	}
	return ctl_usage(&cmd_event);
}

const struct command cmd_event = {
	"event", run_event, "event list | cancel EVENT",
	"list events (status, sold, capacity) or cancel one",
	"list     every event: venue, status, date, closesAt, tickets sold (in\n"
	"         MySQL, cancelled tickets left out) and capacity.\n"
	"cancel   sets EVENT's status to CANCELLED in MySQL and Redis: from\n"
	"         then on every purchase for it answers 410 EVENT_CANCELLED;\n"
	"         sold tickets are not touched.  `catalog apply` of a document\n"
	"         with status SCHEDULED puts it back on sale.",
};
