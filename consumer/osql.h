/* SPDX-License-Identifier: ISC */
/*
 * osql.h - the SQL of orders and cancellations in the consumer's MySQL
 * pipeline (docs/consumer.md): the statements of the one transaction that
 * writes a batch's orders (the pending cancellations of their tickets
 * read under a shared lock, the orders, their tickets) and applies its
 * cancellations (logged in ticket_cancel, tickets and orders updated).
 * Pure functions, no I/O; unit-tested.  Values are written only after the
 * parser's checks (msg.c: ids, UUIDs, decimals, stamps, hex), so nothing
 * in them needs quoting beyond the quotes.
 *
 * Each builder returns the length written (< size), or -1 if it does not
 * fit or a value fails the checks.
 */
#ifndef BOX_OSQL_H
#define BOX_OSQL_H

#include <stddef.h>

#include "msg.h"

#define OSQL_DT_LEN	STAMP_LEN	/* "YYYY-MM-DD HH:MM:SS.mmm" + NUL */
/* buffer size that always holds a statement of n orders / cancellations */
#define OSQL_SIZE(n)	((size_t)(n) * ORDER_TICKETS_MAX * 512 + 1024)

/* An order to write and what ticket_cancel says of its tickets:
 * cancelled[i] is the DATETIME(3) text of ticket i's cancellation, or ""
 * if it is live. */
struct osql_order {
	const struct order	*o;
	char			 cancelled[ORDER_TICKETS_MAX][OSQL_DT_LEN];
};

/* "SELECT ticket_id, cancelled_on FROM ticket_cancel WHERE ticket_id IN
 * (every ticket of the n orders) LOCK IN SHARE MODE". */
int	osql_cancel_lookup(const struct osql_order *v, size_t n, char *buf,
	    size_t size);
/* Records a look-up row (ticket id, cancelled_on text) in the order that
 * holds the ticket.  Returns 0, or -1 if no order holds it or the text is
 * not a DATETIME(3). */
int	osql_cancel_row(struct osql_order *v, size_t n, const char *id,
	    const char *dt);
/* "INSERT INTO orders (...) VALUES (...)": status CANCELLED with the latest
 * cancelled_on when every ticket of an order is cancelled already. */
int	osql_orders_insert(const struct osql_order *v, size_t n, char *buf,
	    size_t size);
/* "INSERT INTO ticket (...) VALUES (...)": every ticket of the n orders,
 * with its order_id, status and cancelled_on. */
int	osql_tickets_insert(const struct osql_order *v, size_t n, char *buf,
	    size_t size);
/* "INSERT IGNORE INTO ticket_cancel ... VALUES ..." for the n
 * cancellations (a redelivered one is already there: ignored). */
int	osql_cancel_log(const struct cancel *const *c, size_t n, char *buf,
	    size_t size);
/* "UPDATE ticket SET status = 'CANCELLED', cancelled_on = .. WHERE
 * ticket_id IN (..) AND order_id = .. AND status <> 'CANCELLED'". */
int	osql_cancel_tickets(const struct cancel *c, char *buf, size_t size);
/* "UPDATE orders SET status = 'CANCELLED', ..": the order of c once none
 * of its tickets is live, stamped with its last ticket's cancellation. */
int	osql_cancel_order(const struct cancel *c, char *buf, size_t size);
/* "SELECT order_id FROM orders WHERE order_id = ..". */
int	osql_order_present(const struct order *o, char *buf, size_t size);

#endif
