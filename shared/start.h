/* SPDX-License-Identifier: ISC */
/*
 * start.h - the start of every program: the settings file of -c, the check
 * of -n, the log.  The option letters are the same everywhere:
 *
 *	-c FILE	settings file (default: conf_default_path(), which may be
 *		missing: then defaults and the environment apply)
 *	-n	check the settings, print them, exit 0 (1 if they are wrong)
 *	-h	usage on stdout, exit 0
 */
#ifndef BOX_START_H
#define BOX_START_H

#include "conf.h"

/* Loads the settings of path (-c), or of the default path if path is NULL,
 * into c.  On failure prints "prog: file:line: why" on stderr.  Returns 0
 * or -1. */
int	start_conf(const char *prog, const char *path, struct conf *c);
/* The end of -n: prints every setting and "# configuration ok" on stdout.
 * Returns 0, the exit status. */
int	start_check_done(const struct conf *c);
/* Opens the log of c (log_file, log_level) for prog; a log file that cannot
 * be opened is said on stderr and the log goes to stderr. */
void	start_log(const char *prog, const struct conf *c);

#endif
