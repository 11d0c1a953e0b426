/* SPDX-License-Identifier: ISC */
/*
 * start.h - the start of every program: its command line, the settings file
 * of -c, the check of -n, the log, the stop signals.  The option letters are
 * the same everywhere:
 *
 *	-c FILE	settings file (default: conf_default_path(); a file named
 *		by -c or $BOXOFFICE_CONF must exist, the built-in default may
 *		be missing: then defaults and the environment apply)
 *	-n	check the settings, print them, exit 0 (1 if they are wrong)
 *	-h	usage on stdout, exit 0 (--help too)
 */
#ifndef BOX_START_H
#define BOX_START_H

#include <stdio.h>

#include "conf.h"

/* The usage lines of the common options, for each program's usage text:
 * START_HELP_CN first, the program's own options, START_HELP_H last. */
#define START_HELP_CN \
	"  -c FILE  settings file (default $BOXOFFICE_CONF, which must\n" \
	"           exist, else /etc/boxoffice/boxoffice.conf, which may be\n" \
	"           missing: defaults and the environment apply)\n" \
	"  -n       check the settings, print them (secrets masked), exit\n"
#define START_HELP_H \
	"  -h       this help (--help too)\n"

struct start_args {
	const char	*path;		/* -c FILE; NULL: the default path */
	int		 check;		/* -n */
	const char	*extra;		/* the program's own getopt letters
					   ("p:"), or NULL */
	/* one of them with its argument; returns 0, or -1 after saying why
	 * on stderr (exit 2) */
	int		(*opt)(int ch, const char *arg, void *ctx);
	void		(*usage)(FILE *f, const void *ctx);
	void		*ctx;		/* for opt and usage */
};

/* Reads the command line into a (path, check, the program's own options
 * through a->opt).  Returns -1 to go on, else the exit status: 0 after -h
 * (the usage on stdout), 2 for a usage error (the usage on stderr, or
 * a->opt's reason). */
int	start_args(struct start_args *a, int argc, char **argv);
/* SIGTERM and SIGINT call on_stop (which only sets a flag); SIGPIPE is
 * ignored (a peer gone is an EPIPE where it is written to). */
void	start_signals(void (*on_stop)(int));

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
