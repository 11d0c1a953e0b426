/* SPDX-License-Identifier: ISC */
/*
 * conf.c - the settings table and its loader (see conf.h).
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conf.h"
#include "log.h"
#include "hostlist.h"
#include "valid.h"

#define S(f)	offsetof(struct conf, f), sizeof(((struct conf *)0)->f)
#define I(f)	offsetof(struct conf, f), sizeof(int)

const struct conf_def conf_defs[] = {
	{ "log_file", CONF_STR, 0, 0, "", S(log_file), 0, NULL },
	{ "log_level", CONF_STR, 0, 0, "info", S(log_level), 0, NULL },
	{ "metrics_dir", CONF_STR, 0, 0, "/run/boxoffice", S(metrics_dir), 0, NULL },

	{ "redis_mode", CONF_STR, 0, 0, "single", S(redis_mode), 0, NULL },
	{ "redis_nodes", CONF_STR, 0, 0, "127.0.0.1:6379", S(redis_nodes), 0, NULL },
	{ "redis_timeout_ms", CONF_INT, 10, 60000, "1000", I(redis_timeout_ms), 0, NULL },
	{ "redis_retry_ms", CONF_INT, 0, 60000, "1000", I(redis_retry_ms), 0, NULL },
	{ "redis_wait_replicas", CONF_INT, -1, 16, "-1", I(redis_wait_replicas), 0, NULL },
	{ "redis_wait_timeout_ms", CONF_INT, 1, 60000, "500", I(redis_wait_timeout_ms), 0, NULL },
	{ "redis_wait_short", CONF_STR, 0, 0, "release", S(redis_wait_short), 0, NULL },
	{ "redis_read_from", CONF_STR, 0, 0, "master", S(redis_read_from), 0, NULL },
	{ "redis_read_max_lag_ms", CONF_INT, 0, 600000, "1000", I(redis_read_max_lag_ms), 0, NULL },
	{ "ticket_cache_ttl", CONF_INT, 1, 30 * 86400, "86400", I(ticket_cache_ttl), 0, NULL },
	{ "token_secret", CONF_STR, 0, 0, "", S(token_secret), 1, NULL },
	{ "hold_seconds", CONF_INT, 1, 86400, "600", I(hold_seconds), 0, NULL },
	{ "hold_max_seconds", CONF_INT, 1, 86400, "1800", I(hold_max_seconds), 0, NULL },
	{ "fcgi_read_timeout_ms", CONF_INT, 100, 600000, "2000", I(fcgi_read_timeout_ms), 0, NULL },

	{ "amqp_host", CONF_STR, 0, 0, "127.0.0.1", S(amqp_host), 0, NULL },
	{ "amqp_port", CONF_INT, 1, 65535, "5672", I(amqp_port), 0, NULL },
	{ "amqp_user", CONF_STR, 0, 0, "guest", S(amqp_user), 0, NULL },
	{ "amqp_password", CONF_STR, 0, 0, "guest", S(amqp_password), 1, NULL },
	{ "amqp_vhost", CONF_STR, 0, 0, "/", S(amqp_vhost), 0, NULL },
	{ "amqp_connect_timeout_ms", CONF_INT, 10, 60000, "1000", I(amqp_connect_timeout_ms), 0, NULL },
	{ "amqp_confirm_timeout_ms", CONF_INT, 10, 600000, "5000", I(amqp_confirm_timeout_ms), 0, NULL },
	{ "amqp_heartbeat", CONF_INT, 0, 600, "10", I(amqp_heartbeat), 0, NULL },
	{ "amqp_queue_max_length", CONF_INT, 0, 2000000000, "0", I(amqp_queue_max_length), 0, NULL },
	{ "amqp_queue_type", CONF_STR, 0, 0, "classic", S(amqp_queue_type), 0, NULL },
	/* RabbitMQ cluster, MariaDB replica (issue 15) */
	{ "amqp_hosts", CONF_STR, 0, 0, "", S(amqp_hosts), 0, NULL },
	{ "amqp_quorum_replicas", CONF_INT, 0, 99, "3", I(amqp_quorum_replicas), 0, NULL },
	/* the local publisher (pubd/, issue 14) */
	{ "amqp_publisher", CONF_STR, 0, 0, "direct", S(amqp_publisher), 0, NULL },
	{ "pubd_socket", CONF_STR, 0, 0, "/run/boxoffice/pubd.sock", S(pubd_socket), 0, NULL },
	{ "pubd_connections", CONF_INT, 1, 4, "2", I(pubd_connections), 0, NULL },
	{ "mysql_read_host", CONF_STR, 0, 0, "", S(mysql_read_host), 0, NULL },
	{ "mysql_read_port", CONF_INT, 0, 65535, "0", I(mysql_read_port), 0, NULL },
	{ "mysql_read_max_lag_s", CONF_INT, 0, 86400, "30", I(mysql_read_max_lag_s), 0, NULL },

	{ "mysql_host", CONF_STR, 0, 0, "127.0.0.1", S(mysql_host), 0, NULL },
	{ "mysql_port", CONF_INT, 1, 65535, "3306", I(mysql_port), 0, NULL },
	{ "mysql_socket", CONF_STR, 0, 0, "", S(mysql_socket), 0, NULL },
	{ "mysql_database", CONF_STR, 0, 0, "ticketing", S(mysql_database), 0, NULL },
	{ "mysql_query_user", CONF_STR, 0, 0, "bo_query", S(mysql_query_user), 0, NULL },
	{ "mysql_query_password", CONF_STR, 0, 0, "bo_query_pw", S(mysql_query_password), 1, NULL },
	{ "mysql_consumer_user", CONF_STR, 0, 0, "bo_consumer", S(mysql_consumer_user), 0, NULL },
	{ "mysql_consumer_password", CONF_STR, 0, 0, "bo_consumer_pw", S(mysql_consumer_password), 1, NULL },
	{ "mysql_catalog_user", CONF_STR, 0, 0, "bo_catalog", S(mysql_catalog_user), 0, NULL },
	{ "mysql_catalog_password", CONF_STR, 0, 0, "bo_catalog_pw", S(mysql_catalog_password), 1, NULL },
	{ "mysql_timeout_ms", CONF_INT, 100, 600000, "5000", I(mysql_timeout_ms), 0, NULL },

	{ "dynamodb_endpoint", CONF_STR, 0, 0, "http://127.0.0.1:8000", S(dynamodb_endpoint), 0, NULL },
	{ "dynamodb_region", CONF_STR, 0, 0, "us-east-1", S(dynamodb_region), 0, "AWS_REGION" },
	{ "dynamodb_table", CONF_STR, 0, 0, "Tickets", S(dynamodb_table), 0, NULL },
	{ "aws_access_key_id", CONF_STR, 0, 0, "boxoffice", S(aws_access_key_id), 0, "AWS_ACCESS_KEY_ID" },
	{ "aws_secret_access_key", CONF_STR, 0, 0, "boxoffice", S(aws_secret_access_key), 1, "AWS_SECRET_ACCESS_KEY" },
	{ "aws_session_token", CONF_STR, 0, 0, "", S(aws_session_token), 1, "AWS_SESSION_TOKEN" },
	{ "aws_credentials", CONF_STR, 0, 0, "static", S(aws_credentials), 0, NULL },
	{ "aws_shared_credentials_file", CONF_STR, 0, 0, "", S(aws_shared_credentials_file), 0, "AWS_SHARED_CREDENTIALS_FILE" },
	{ "aws_profile", CONF_STR, 0, 0, "default", S(aws_profile), 0, "AWS_PROFILE" },
	{ "aws_imds_endpoint", CONF_STR, 0, 0, "http://169.254.169.254", S(aws_imds_endpoint), 0, "AWS_EC2_METADATA_SERVICE_ENDPOINT" },
	{ "aws_credentials_refresh_s", CONF_INT, 1, 3600, "300", I(aws_credentials_refresh_s), 0, NULL },
	{ "dynamodb_timeout_ms", CONF_INT, 100, 600000, "5000", I(dynamodb_timeout_ms), 0, NULL },

	{ "consumer_prefetch", CONF_INT, 1, 65535, "300", I(consumer_prefetch), 0, NULL },
	{ "consumer_batch", CONF_INT, 1, 1000, "100", I(consumer_batch), 0, NULL },
	{ "consumer_batch_wait_ms", CONF_INT, 0, 10000, "20", I(consumer_batch_wait_ms), 0, NULL },
	{ "consumer_ddb_parallel", CONF_INT, 1, 64, "8", I(consumer_ddb_parallel), 0, NULL },
	{ "consumer_ddb_write", CONF_STR, 0, 0, "batch", S(consumer_ddb_write), 0, NULL },
	{ "consumer_retry_max_ms", CONF_INT, 10, 600000, "5000", I(consumer_retry_max_ms), 0, NULL },
	{ "sweeper_interval_ms", CONF_INT, 100, 3600000, "2000", I(sweeper_interval_ms), 0, NULL },
	{ "sweeper_stale_ms", CONF_INT, 1000, 86400000, "30000", I(sweeper_stale_ms), 0, NULL },
};
const size_t conf_ndefs = sizeof(conf_defs) / sizeof(conf_defs[0]);

static const struct conf_def *
conf_find(const char *name)
{
	size_t i;

	for (i = 0; i < conf_ndefs; i++)
		if (strcmp(conf_defs[i].name, name) == 0)
			return &conf_defs[i];
	return NULL;
}

static int
conf_apply(struct conf *c, const struct conf_def *d, const char *value,
    char *err, size_t errlen)
{
	char	*dst = (char *)c + d->off;
	long	 n;

	if (d->type == CONF_INT) {
		if (valid_long(value, d->min, d->max, &n) != 0) {
			snprintf(err, errlen, "%s: '%s' is not an integer in %ld..%ld",
			    d->name, value, d->min, d->max);
			return -1;
		}
		*(int *)dst = (int)n;
		return 0;
	}
	if (strlen(value) >= d->size) {
		snprintf(err, errlen, "%s: value longer than %zu characters",
		    d->name, d->size - 1);
		return -1;
	}
	memcpy(dst, value, strlen(value) + 1);
	return 0;
}

int
conf_set(struct conf *c, const char *name, const char *value, char *err,
    size_t errlen)
{
	const struct conf_def *d;

	if ((d = conf_find(name)) == NULL) {
		snprintf(err, errlen, "unknown setting '%s'", name);
		return -1;
	}
	return conf_apply(c, d, value, err, errlen);
}

/* Strips leading and trailing blanks in place; returns the new start. */
static char *
trim(char *s)
{
	char *e;

	while (isspace((unsigned char)*s))
		s++;
	e = s + strlen(s);
	while (e > s && isspace((unsigned char)e[-1]))
		*--e = '\0';
	return s;
}

static int
conf_read_file(struct conf *c, const char *path, int must_exist, char *err,
    size_t errlen)
{
	FILE	*f;
	char	*line = NULL, msg[512], *p, *eq, *name, *value;
	size_t	 cap = 0, len;
	ssize_t	 n;
	int	 lineno = 0, rc = -1;

	if ((f = fopen(path, "r")) == NULL) {
		if (!must_exist && errno == ENOENT)
			return 0;
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	while ((n = getline(&line, &cap, f)) > 0) {
		lineno++;
		len = (size_t)n - (line[n - 1] == '\n');
		if (len > CONF_LINE_MAX) {
			snprintf(err, errlen, "%s:%d: line too long", path, lineno);
			goto out;
		}
		/* a NUL would end the line's text early: not a text file
		 * (UTF-16, say), not a line "too long" */
		if (memchr(line, '\0', len) != NULL) {
			snprintf(err, errlen, "%s:%d: a NUL byte: the file is "
			    "not text (saved as UTF-16?)", path, lineno);
			goto out;
		}
		/* '#' starts a comment at the start of a line or after a blank,
		 * so that values such as passwords may contain it */
		for (p = line; *p != '\0'; p++)
			if (*p == '#' && (p == line || *(p - 1) == ' ' ||
			    *(p - 1) == '\t')) {
				*p = '\0';
				break;
			}
		p = trim(line);
		if (*p == '\0')
			continue;
		if ((eq = strchr(p, '=')) == NULL) {
			snprintf(err, errlen, "%s:%d: expected 'name = value'",
			    path, lineno);
			goto out;
		}
		*eq = '\0';
		name = trim(p);
		value = trim(eq + 1);
		if (conf_set(c, name, value, msg, sizeof(msg)) != 0) {
			snprintf(err, errlen, "%s:%d: %s", path, lineno, msg);
			goto out;
		}
	}
	/* fopen() takes a directory, and getline() then fails (EISDIR): a
	 * read error is no end of the file */
	if (ferror(f)) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		goto out;
	}
	rc = 0;
out:
	free(line);
	fclose(f);
	return rc;
}

static int
conf_read_env(struct conf *c, char *err, size_t errlen)
{
	char		 var[128], msg[512];
	const char	*v;
	size_t		 i, j;

	for (i = 0; i < conf_ndefs; i++) {
		const struct conf_def *d = &conf_defs[i];

		if (d->env_alias != NULL && (v = getenv(d->env_alias)) != NULL &&
		    conf_apply(c, d, v, msg, sizeof(msg)) != 0) {
			snprintf(err, errlen, "%s: %s", d->env_alias, msg);
			return -1;
		}
		j = (size_t)snprintf(var, sizeof(var), "BOXOFFICE_%s", d->name);
		if (j >= sizeof(var))
			continue;
		for (j = 10; var[j] != '\0'; j++)
			var[j] = toupper((unsigned char)var[j]);
		if ((v = getenv(var)) != NULL &&
		    conf_apply(c, d, v, msg, sizeof(msg)) != 0) {
			snprintf(err, errlen, "%s: %s", var, msg);
			return -1;
		}
	}
	return 0;
}

/* Checks the settings that are lists (amqp_hosts); returns 0 or -1. */
static int
conf_check_lists(const struct conf *c, char *err, size_t errlen)
{
	struct hostport	nodes[CONF_HOSTS_MAX];
	char		why[256];

	if (hostlist_parse(c->amqp_hosts, c->amqp_port, nodes, CONF_HOSTS_MAX,
	    why, sizeof(why)) < 0) {
		snprintf(err, errlen, "amqp_hosts: %s", why);
		return -1;
	}
	return 0;
}

int
conf_load(struct conf *c, const char *path, int must_exist, char *err,
    size_t errlen)
{
	size_t i;

	memset(c, 0, sizeof(*c));
	for (i = 0; i < conf_ndefs; i++)
		if (conf_apply(c, &conf_defs[i], conf_defs[i].def, err, errlen))
			return -1;
	if (path != NULL && conf_read_file(c, path, must_exist, err, errlen))
		return -1;
	if (conf_read_env(c, err, errlen) != 0)
		return -1;
	if (conf_check_lists(c, err, errlen) != 0)
		return -1;
	if (strcmp(c->amqp_publisher, "direct") != 0 &&
	    strcmp(c->amqp_publisher, "local") != 0) {
		snprintf(err, errlen, "amqp_publisher: '%s' is not direct or "
		    "local", c->amqp_publisher);
		return -1;
	}
	if (log_level_parse(c->log_level) < 0) {
		snprintf(err, errlen, "log_level: '%s' is not error, warn, info "
		    "or debug", c->log_level);
		return -1;
	}
	return 0;
}

void
conf_dump(const struct conf *c, int fd)
{
	char	 line[CONF_STR_MAX * 10];
	size_t	 i;
	int	 n;

	for (i = 0; i < conf_ndefs; i++) {
		const struct conf_def *d = &conf_defs[i];
		const char *p = (const char *)c + d->off;

		if (d->secret)
			n = snprintf(line, sizeof(line), "%s = %s\n", d->name,
			    *p ? "****" : "");
		else if (d->type == CONF_INT)
			n = snprintf(line, sizeof(line), "%s = %d\n", d->name,
			    *(const int *)p);
		else
			/* a value that begins with '#' (written "name =#...")
			 * keeps the '=' next to it, or it would read back as
			 * a comment */
			n = snprintf(line, sizeof(line), "%s =%s%s\n", d->name,
			    *p == '#' ? "" : " ", p);
		if (n > 0 && (size_t)n < sizeof(line))
			(void)!write(fd, line, n);
	}
}

const char *
conf_default_path(void)
{
	const char *p = getenv("BOXOFFICE_CONF");

	return p != NULL && *p != '\0' ? p : "/etc/boxoffice/boxoffice.conf";
}
