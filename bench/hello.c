/* SPDX-License-Identifier: ISC */
/*
 * hello.c - the trivial FastCGI responder of the bench's ceiling run
 * (docs/performance.md): reads the request body and answers 200 with
 * a fixed body the size of a ticket, with the headers the purchase responder
 * sends.  No I/O besides FastCGI: what nginx + libfcgi + this machine can do
 * at best.  Spawned by scripts/bench with spawn-fcgi, as many processes as
 * there are purchase responders.
 */
#include <signal.h>
#include <string.h>

#include <fcgiapp.h>

static const char reply[] =
    "Status: 200 OK\r\n"
    "Content-Type: application/json\r\n"
    "Content-Length: 192\r\n"
    "Cache-Control: no-store\r\n"
    "\r\n"
    "{\"ticketId\":\"00000000-0000-7000-8000-000000000000\","
    "\"venueId\":\"Venue1\",\"eventId\":\"Event1\",\"zoneId\":1,\"row\":1,"
    "\"column\":1,\"price\":320.00,\"status\":\"CREATED\","
    "\"createdOn\":\"2026-11-28T00:00:00.000Z\"}";

int
main(void)
{
	FCGX_Request	req;
	char		buf[4096];

	signal(SIGPIPE, SIG_IGN);
	if (FCGX_Init() != 0 || FCGX_InitRequest(&req, 0, 0) != 0)
		return 1;
	while (FCGX_Accept_r(&req) >= 0) {
		/* read the body, as the purchase responder does */
		while (FCGX_GetStr(buf, sizeof(buf), req.in) > 0)
			;
		FCGX_PutStr(reply, (int)sizeof(reply) - 1, req.out);
		/* stdin read to its end: a plain close, as the responders
		 * make it (shared/server.c, finish()) */
		if (!req.keepConnection && FCGX_HasSeenEOF(req.in))
			FCGX_Detach(&req);
		FCGX_Finish_r(&req);
	}
	return 0;
}
