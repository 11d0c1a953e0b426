/* SPDX-License-Identifier: ISC */
/*
 * fuzz_msg.c - libFuzzer harness for the queue message parser, msg_parse():
 * a round-1 ticket, an order or a cancellation.  An accepted message must
 * hold only values the consumer's writers take without escaping (the
 * checks of ticket_ok() and msg_hash_ok()), within the caps.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "msg.h"
#include "valid.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct msg	 m;
	const char		*why = NULL;
	size_t			 i, j;

	if (msg_parse((const char *)data, size, &m, &why) != 0) {
		CHECK(why != NULL && *why != '\0');
		return 0;
	}
	CHECK(why == NULL);
	switch (m.kind) {
	case MSG_TICKET:
		CHECK(ticket_ok(&m.t));
		break;
	case MSG_ORDER:
		CHECK(valid_uuid(m.u.o.id) && msg_hash_ok(m.u.o.hash));
		CHECK(ticket_price_ok(m.u.o.total));
		CHECK(m.u.o.n >= 1 && m.u.o.n <= ORDER_TICKETS_MAX);
		for (i = 0; i < m.u.o.n; i++) {
			CHECK(ticket_ok(&m.u.o.t[i]));
			CHECK(strcmp(m.u.o.t[i].event, m.u.o.event) == 0);
			for (j = 0; j < i; j++)
				CHECK(strcmp(m.u.o.t[i].id, m.u.o.t[j].id) != 0);
		}
		break;
	case MSG_CANCEL:
		CHECK(valid_uuid(m.u.c.order) && ticket_stamp_ok(m.u.c.on));
		CHECK(m.u.c.n >= 1 && m.u.c.n <= ORDER_TICKETS_MAX);
		for (i = 0; i < m.u.c.n; i++)
			CHECK(valid_uuid(m.u.c.ids[i]) &&
			    ticket_stamp_ok(cancel_on(&m.u.c, i)));
		break;
	default:
		CHECK(0);
	}
	return 0;
}
