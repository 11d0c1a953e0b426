/* SPDX-License-Identifier: ISC */
/*
 * tsql.c - SQL text of the consumer's MySQL pipeline (see tsql.h).
 */
#include <stdio.h>
#include <string.h>

#include "tsql.h"
#include "valid.h"

#define TSQL_COLUMNS	"ticket_id, venue_id, event_id, zone_id, row_no, " \
			"col_no, price, status, created_on"
#define TSQL_KEYCOLS	"ticket_id, event_id, zone_id, row_no, col_no"

int
tsql_datetime(const char *stamp, char out[STAMP_LEN])
{
	if (!ticket_stamp_ok(stamp))
		return -1;
	memcpy(out, stamp, STAMP_LEN - 1);	/* drops the 'Z' */
	out[10] = ' ';
	out[STAMP_LEN - 1] = '\0';
	return 0;
}

/* Appends with snprintf at *off; returns 0 or -1 if it did not fit. */
static int
put(size_t size, size_t *off, int n)
{
	if (n < 0 || (size_t)n >= size - *off)
		return -1;
	*off += (size_t)n;
	return 0;
}

int
tsql_insert(const struct ticket *const *t, size_t n, char *buf, size_t size)
{
	char	dt[STAMP_LEN];
	size_t	off = 0, k;

	if (n < 1 || n > TSQL_BATCH_MAX || size == 0)
		return -1;
	if (put(size, &off, snprintf(buf, size, "INSERT INTO ticket ("
	    TSQL_COLUMNS ") VALUES ")) != 0)
		return -1;
	for (k = 0; k < n; k++) {
		if (!ticket_ok(t[k]) || tsql_datetime(t[k]->created, dt) != 0)
			return -1;
		if (put(size, &off, snprintf(buf + off, size - off,
		    "%s('%s','%s','%s',%ld,%ld,%ld,%s,'" TICKET_STATUS "','%s')",
		    k ? "," : "", t[k]->id, t[k]->venue, t[k]->event,
		    t[k]->zone, t[k]->row, t[k]->col, t[k]->price, dt)) != 0)
			return -1;
	}
	return (int)off;
}

int
tsql_lookup(const struct ticket *const *t, size_t n, char *buf, size_t size)
{
	size_t	off = 0, k;

	if (n < 1 || n > TSQL_BATCH_MAX || size == 0)
		return -1;
	for (k = 0; k < n; k++)
		if (!ticket_ok(t[k]))
			return -1;
	if (put(size, &off, snprintf(buf, size, "SELECT " TSQL_KEYCOLS
	    " FROM ticket WHERE ticket_id IN (")) != 0)
		return -1;
	for (k = 0; k < n; k++)
		if (put(size, &off, snprintf(buf + off, size - off,
		    "%s'%s'", k ? "," : "", t[k]->id)) != 0)
			return -1;
	if (put(size, &off, snprintf(buf + off, size - off, ") UNION "
	    "SELECT " TSQL_KEYCOLS " FROM ticket WHERE (event_id, zone_id, "
	    "row_no, col_no) IN (")) != 0)
		return -1;
	for (k = 0; k < n; k++)
		if (put(size, &off, snprintf(buf + off, size - off,
		    "%s('%s',%ld,%ld,%ld)", k ? "," : "", t[k]->event,
		    t[k]->zone, t[k]->row, t[k]->col)) != 0)
			return -1;
	/* a cancelled ticket holds no seat (docs/consumer.md) */
	if (put(size, &off, snprintf(buf + off, size - off,
	    ") AND status <> 'CANCELLED'")) != 0)
		return -1;
	return (int)off;
}

int
tsql_row_parse(char *const *cols, struct tsql_row *r)
{
	int i;

	memset(r, 0, sizeof(*r));
	for (i = 0; i < 5; i++)
		if (cols[i] == NULL)
			return -1;
	if (strlen(cols[0]) > UUID_LEN || strlen(cols[1]) > ID_MAX)
		return -1;
	memcpy(r->id, cols[0], strlen(cols[0]) + 1);
	memcpy(r->event, cols[1], strlen(cols[1]) + 1);
	if (valid_digits(cols[2], &r->zone) != 0 ||
	    valid_digits(cols[3], &r->row) != 0 ||
	    valid_digits(cols[4], &r->col) != 0)
		return -1;
	return 0;
}

static int
same_seat(const struct ticket *t, const struct tsql_row *r)
{
	return strcmp(t->event, r->event) == 0 && t->zone == r->zone &&
	    t->row == r->row && t->col == r->col;
}

enum tsql_verdict
tsql_classify(const struct ticket *t, const struct tsql_row *rows,
    size_t nrows, const struct tsql_row **other)
{
	size_t i;

	*other = NULL;
	for (i = 0; i < nrows; i++)
		if (strcmp(rows[i].id, t->id) == 0) {
			*other = &rows[i];
			return same_seat(t, &rows[i]) ? TSQL_PRESENT :
			    TSQL_ID_CONFLICT;
		}
	for (i = 0; i < nrows; i++)
		if (same_seat(t, &rows[i])) {
			*other = &rows[i];
			return TSQL_SEAT_TAKEN;
		}
	return TSQL_ABSENT;
}
