/* SPDX-License-Identifier: ISC */
/*
 * server.h - the life of a preforked FastCGI responder: command line
 * (-c config, -n check config, -h), settings, logging, signals and the
 * FCGX accept loop, and the shared metrics (opened here, served at
 * metrics_path).  fcgi/ticket/main.c and fcgi/query/main.c only supply
 * the handlers.  SIGTERM and SIGINT end the process after the request in
 * hand: they are held from the accept to the end of the answer (a body
 * still arriving is read whole), and end an idle wait in accept at once.
 * Exit status 0 after them, 1 if descriptor 0 is no listening socket.
 */
#ifndef BOX_SERVER_H
#define BOX_SERVER_H

#include <fcgiapp.h>

#include "conf.h"

struct server_ops {
	const char	*prog;		/* name in logs and --help */
	const char	*summary;	/* one line for --help */
	/* Called once after the settings are loaded (and in -n mode with
	 * check_only set: validate, connect nothing).  Returns 0 or -1. */
	int		(*init)(const struct conf *c, int check_only);
	/* Answers one request; must not exit. */
	void		(*handle)(FCGX_Request *req);
	/* Called once before exit. */
	void		(*fini)(void);
	/* GET of this path answers the Prometheus text of metrics.h (for
	 * every process of the program), or NULL. */
	const char	*metrics_path;
};

/* Runs the responder; returns the process exit status. */
int	server_main(int argc, char **argv, const struct server_ops *ops);

#endif
