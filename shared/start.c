/* SPDX-License-Identifier: ISC */
/*
 * start.c - the start of every program (see start.h).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "start.h"

int
start_conf(const char *prog, const char *path, struct conf *c)
{
	char	err[512];

	if (conf_load(c, path != NULL ? path : conf_default_path(),
	    path != NULL, err, sizeof(err)) != 0) {
		fflush(stdout);
		fprintf(stderr, "%s: %s\n", prog, err);
		return -1;
	}
	return 0;
}

int
start_check_done(const struct conf *c)
{
	conf_dump(c, STDOUT_FILENO);
	fprintf(stdout, "# configuration ok\n");
	return 0;
}

void
start_log(const char *prog, const struct conf *c)
{
	if (log_open(prog, c->log_file, log_level_parse(c->log_level)) != 0)
		fprintf(stderr, "%s: log_file %s: %s (logging to stderr)\n",
		    prog, c->log_file, strerror(errno));
}
