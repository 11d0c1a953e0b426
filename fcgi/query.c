/*
 * query.c - the query responder (CONTRACT §3).  Not built yet: answers 503
 * to everything until its issue lands.
 */
#include "http.h"
#include "server.h"

static int
init(const struct conf *c, int check_only)
{
	(void)c;
	(void)check_only;
	return 0;
}

static void
handle(FCGX_Request *req)
{
	http_error(req, 503, "UNAVAILABLE", "query responder not implemented",
	    "Retry-After: 60\r\n");
}

int
main(int argc, char **argv)
{
	static const struct server_ops ops = {
		"query", "boxoffice query responder (FastCGI)", init, handle, NULL
	};

	return server_main(argc, argv, &ops);
}
