/* SPDX-License-Identifier: ISC */
/*
 * start.c - the start of every program (see start.h).
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "start.h"

int
start_conf(const char *prog, const char *path, struct conf *c)
{
	const char	*env = getenv("BOXOFFICE_CONF");
	char		 err[512];

	/* a file named by -c or by BOXOFFICE_CONF must exist; only the
	 * built-in default may be missing (then defaults and the
	 * environment apply) */
	if (conf_load(c, path != NULL ? path : conf_default_path(),
	    path != NULL || (env != NULL && *env != '\0'), err,
	    sizeof(err)) != 0) {
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

int
start_args(struct start_args *a, int argc, char **argv)
{
	char	optstring[32];
	int	ch;

	snprintf(optstring, sizeof(optstring), "c:nh%s",
	    a->extra != NULL ? a->extra : "");
	a->path = NULL;
	a->check = 0;
	for (ch = 1; ch < argc && strcmp(argv[ch], "--") != 0; ch++)
		if (strcmp(argv[ch], "--help") == 0) {
			a->usage(stdout, a->ctx);
			return 0;
		}
	while ((ch = getopt(argc, argv, optstring)) != -1) {
		switch (ch) {
		case 'c':
			a->path = optarg;
			break;
		case 'n':
			a->check = 1;
			break;
		case 'h':
			a->usage(stdout, a->ctx);
			return 0;
		case '?':
		case ':':
			a->usage(stderr, a->ctx);
			return 2;
		default:
			if (a->opt(ch, optarg, a->ctx) != 0)
				return 2;
			break;
		}
	}
	if (optind != argc) {
		a->usage(stderr, a->ctx);
		return 2;
	}
	return -1;
}

void
start_signals(void (*on_stop)(int))
{
	struct sigaction	sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_stop;
	sigemptyset(&sa.sa_mask);
	(void)sigaction(SIGTERM, &sa, NULL);
	(void)sigaction(SIGINT, &sa, NULL);
	sa.sa_handler = SIG_IGN;
	(void)sigaction(SIGPIPE, &sa, NULL);
}
