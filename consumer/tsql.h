/* SPDX-License-Identifier: ISC */
/*
 * tsql.h - the SQL of the consumer's MySQL pipeline: a batch of tickets as
 * one multi-row INSERT, the look-up that explains a refused batch (which of
 * its tickets are already there, which seats belong to another ticket), and
 * the verdict for each ticket.  Pure functions, no I/O; unit-tested.
 *
 * Values are written into the SQL text only after the same checks as the
 * message parser (ids [A-Za-z0-9_-] or a lowercase UUID, decimal numbers, an
 * RFC 3339 stamp), so nothing in them needs quoting beyond the quotes.
 */
#ifndef BOX_TSQL_H
#define BOX_TSQL_H

#include <stddef.h>

#include "ticket.h"

#define TSQL_ROW_MAX	400	/* longest VALUES / look-up text of one ticket */
#define TSQL_BATCH_MAX	1000	/* tickets per statement */
/* buffer size that always holds a statement of n tickets */
#define TSQL_SIZE(n)	((size_t)(n) * TSQL_ROW_MAX + 512)

/* One row of the look-up: a persisted ticket's id and seat. */
struct tsql_row {
	char	id[UUID_LEN + 1];
	char	event[ID_MAX + 1];
	long	zone;
	long	row;
	long	col;
};

enum tsql_verdict {
	TSQL_ABSENT,		/* neither the ticket nor its seat is there */
	TSQL_PRESENT,		/* this very ticket is there (redelivery) */
	TSQL_SEAT_TAKEN,	/* the seat belongs to another ticket: double sale */
	TSQL_ID_CONFLICT	/* this ticket id is there for another seat */
};

/* "INSERT INTO ticket (...) VALUES (...),(...)" for n (1..TSQL_BATCH_MAX)
 * tickets.  Returns the length written (< size) or -1 (does not fit, or a
 * ticket fails the checks). */
int	tsql_insert(const struct ticket *const *t, size_t n, char *buf,
	    size_t size);
/* "SELECT ticket_id, event_id, zone_id, row_no, col_no FROM ticket WHERE
 * ticket_id IN (...) UNION SELECT ... WHERE (seat) IN (...)": the rows
 * that share an id or a seat with one of the n tickets.  Same returns. */
int	tsql_lookup(const struct ticket *const *t, size_t n, char *buf,
	    size_t size);
/* Fills r from the five text columns of a look-up row.  Returns 0, or -1
 * if a column is NULL or malformed. */
int	tsql_row_parse(char *const *cols, struct tsql_row *r);
/* The verdict for t given the look-up rows; *other points at the row of
 * t's id (TSQL_PRESENT, TSQL_ID_CONFLICT) or of its seat
 * (TSQL_SEAT_TAKEN), NULL for TSQL_ABSENT. */
enum tsql_verdict tsql_classify(const struct ticket *t,
	    const struct tsql_row *rows, size_t nrows,
	    const struct tsql_row **other);
/* The DATETIME(3) text of an RFC 3339 stamp: "YYYY-MM-DD HH:MM:SS.mmm".
 * Returns 0, or -1 if stamp is not a valid ticket stamp. */
int	tsql_datetime(const char *stamp, char out[STAMP_LEN]);

#endif
