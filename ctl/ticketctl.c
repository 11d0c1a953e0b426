/* SPDX-License-Identifier: ISC */
/*
 * ticketctl - the operator's tool: command line, settings, connections and
 * dispatch.  Each command lives in its own file (cmd_*.c).  `ticketctl help`
 * and `ticketctl COMMAND --help` describe them; docs/reliability.md and
 * docs/deploy.md say when to use which.
 *
 *   ticketctl [-c config] init | reset --yes | rebuild | check | status
 *                         | dlq [--queue sql|nosql] | catalog ... | event ...
 *
 * Exit status: 0 ok, 1 differences found or a failure, 2 usage error.
 */
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <curl/curl.h>

#include "ctl.h"
#include "log.h"
#include "start.h"
#include "valid.h"

static const struct command *const commands[] = {
	&cmd_init, &cmd_rebuild, &cmd_check, &cmd_status, &cmd_dlq, &cmd_reset,
	&cmd_catalog, &cmd_event
};
#define NCOMMANDS	(sizeof(commands) / sizeof(commands[0]))

static const char exit_help[] =
    "exit status: 0 ok, 1 differences found or a failure, 2 usage error\n";

static void
usage(FILE *f)
{
	size_t i;

	fprintf(f, "usage: ticketctl [-c config] command [args]\n\n");
	for (i = 0; i < NCOMMANDS; i++)
		fprintf(f, "  %-9s %s\n", commands[i]->name,
		    commands[i]->summary);
	fprintf(f, "\n  -c FILE   settings (default $BOXOFFICE_CONF or "
	    "/etc/boxoffice/boxoffice.conf)\n"
	    "  ticketctl COMMAND --help   help on one command\n%s", exit_help);
}

static void
command_help(const struct command *cmd)
{
	printf("usage: ticketctl [-c config] %s\n\n%s\n\n%s\n%s", cmd->usage,
	    cmd->summary, cmd->help, exit_help);
}

int
ctl_usage(const struct command *cmd)
{
	fprintf(stderr, "usage: ticketctl %s\n(ticketctl %s --help for more)\n",
	    cmd->usage, cmd->name);
	return CTL_USAGE;
}

void
ctl_err(const char *fmt, ...)
{
	va_list ap;

	fflush(stdout);
	fprintf(stderr, "ticketctl: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

int
ctl_mq_open(struct ctl *ctl, struct mq *m, const char *name)
{
	if (mq_init_conf(m, &ctl->c, name) != 0 || mq_connect(m, 0) != 0) {
		ctl_err("%s", m->errstr);
		return -1;
	}
	return 0;
}

void
ctl_db_open(struct ctl *ctl, struct db *d)
{
	db_init(d, &ctl->c, ctl->c.mysql_consumer_user,
	    ctl->c.mysql_consumer_password);
}

int
ctl_events(struct events *ev, int argc, char **argv)
{
	int i;

	ev->n = 0;
	for (i = 0; i < argc; i++) {
		if (!valid_id(argv[i])) {
			ctl_err("'%s' is not an event id", argv[i]);
			return -1;
		}
		if (ev->n == CTL_EVENTS_MAX) {
			ctl_err("more than %d events", CTL_EVENTS_MAX);
			return -1;
		}
		ev->id[ev->n++] = argv[i];
	}
	return 0;
}

int
ctl_event_selected(const struct events *ev, const char *event)
{
	int i;

	if (ev->n == 0)
		return 1;
	for (i = 0; i < ev->n; i++)
		if (strcmp(ev->id[i], event) == 0)
			return 1;
	return 0;
}

int
ctl_seconds(const char *s, long max, long *out)
{
	return valid_long(s, 0, max, out);
}

static const struct option long_options[] = {
	{ "help",	no_argument,		NULL,	'h' },
	{ NULL,		0,			NULL,	0 }
};

/*
 * The options before the command, in one pass: -c FILE, -h, --help ('+':
 * the first word that is not an option is the command, whose own options
 * are its business).  Returns 1 with *path set and optind at the command,
 * or 0 to exit with *exitcode: CTL_OK after help, CTL_USAGE (printed).
 */
static int
options(int argc, char **argv, const char **path, int *exitcode)
{
	int ch;

	while ((ch = getopt_long(argc, argv, "+c:h", long_options,
	    NULL)) != -1) {
		switch (ch) {
		case 'c':
			*path = optarg;
			break;
		case 'h':
			usage(stdout);
			*exitcode = CTL_OK;
			return 0;
		default:
			usage(stderr);
			*exitcode = CTL_USAGE;
			return 0;
		}
	}
	if (optind == argc) {
		usage(stderr);
		*exitcode = CTL_USAGE;
		return 0;
	}
	return 1;
}

/* The command called name, or NULL. */
static const struct command *
command_find(const char *name)
{
	size_t i;

	for (i = 0; i < NCOMMANDS; i++)
		if (strcmp(name, commands[i]->name) == 0)
			return commands[i];
	return NULL;
}

/* 1 if the command's arguments ask for its help (-h or --help anywhere). */
static int
command_wants_help(int argc, char **argv)
{
	int i;

	for (i = 1; i < argc; i++)
		if (strcmp(argv[i], "--help") == 0 ||
		    strcmp(argv[i], "-h") == 0)
			return 1;
	return 0;
}

/* Reads the settings, opens the Redis shards, runs cmd; returns its exit
 * status, or CTL_FAIL if the settings or the shard list are bad. */
static int
command_run(const struct command *cmd, const char *path, int argc,
    char **argv)
{
	struct ctl	ctl;
	int		ret;

	if (start_conf("ticketctl", path, &ctl.c) != 0)
		return CTL_FAIL;
	log_open("ticketctl", NULL, log_level_parse(ctl.c.log_level));
	if (rds_init_conf(&ctl.rds, &ctl.c)) {
		ctl_err("%s", ctl.rds.errstr);
		return CTL_FAIL;
	}
	curl_global_init(CURL_GLOBAL_DEFAULT);
	ret = cmd->fn(&ctl, argc, argv);
	rds_close(&ctl.rds);
	curl_global_cleanup();
	fflush(stdout);
	return ret;
}

int
main(int argc, char **argv)
{
	const struct command	*cmd;
	const char		*path = NULL;
	int			 exitcode;

	if (!options(argc, argv, &path, &exitcode))
		return exitcode;
	argc -= optind;
	argv += optind;
	if (strcmp(argv[0], "help") == 0) {
		usage(stdout);
		return CTL_OK;
	}
	if ((cmd = command_find(argv[0])) == NULL) {
		ctl_err("unknown command '%s'", argv[0]);
		usage(stderr);
		return CTL_USAGE;
	}
	if (command_wants_help(argc, argv)) {
		command_help(cmd);
		return CTL_OK;
	}
	return command_run(cmd, path, argc, argv);
}
