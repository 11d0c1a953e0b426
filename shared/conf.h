/* SPDX-License-Identifier: ISC */
/*
 * conf.h - the settings of every boxoffice program, in one table.
 *
 * A setting comes from its default, then the config file ("name = value"
 * lines, '#' comments), then the environment (BOXOFFICE_<NAME>, upper case;
 * the AWS credentials also from the standard AWS_* variables).  Unknown names
 * and out-of-range values are errors reported as "file:line: ..." (or as the
 * variable's name).  docs/config.md lists every setting.
 */
#ifndef BOX_CONF_H
#define BOX_CONF_H

#include <stddef.h>

#define CONF_STR_MAX	256
#define CONF_HOSTS_MAX	16	/* entries of amqp_hosts */
#define CONF_LINE_MAX	4094	/* bytes of a file's line, besides its newline */

struct conf {
	/* logging */
	char	log_file[CONF_STR_MAX];
	char	log_level[16];
	char	metrics_dir[CONF_STR_MAX];	/* shared counters; "" = off */

	/* Redis: one server (redis_mode single) or a cluster's seed nodes */
	char	redis_mode[16];		/* single | cluster */
	char	redis_nodes[CONF_STR_MAX * 4];
	int	redis_timeout_ms;
	int	redis_retry_ms;		/* cluster: back-off budget per command */
	int	redis_wait_replicas;	/* WAIT N after a sale; -1 = by mode */
	int	redis_wait_timeout_ms;
	char	redis_wait_short[16];	/* fewer replicas: release | publish */
	char	redis_read_from[16];	/* query, cluster: master | replica */
	int	redis_read_max_lag_ms;	/* replica further behind: master */
	int	ticket_cache_ttl;
	char	token_secret[CONF_STR_MAX];	/* keyed cancel tokens */
	int	hold_seconds;		/* POST /holds default */
	int	hold_max_seconds;	/* and its longest */
	int	fcgi_read_timeout_ms;	/* a responder's wait for its input */

	/* RabbitMQ */
	char	amqp_host[CONF_STR_MAX];
	int	amqp_port;
	char	amqp_user[CONF_STR_MAX];
	char	amqp_password[CONF_STR_MAX];
	char	amqp_vhost[CONF_STR_MAX];
	int	amqp_connect_timeout_ms;
	int	amqp_confirm_timeout_ms;
	int	amqp_heartbeat;		/* seconds, 0 = off */
	int	amqp_queue_max_length;
	char	amqp_queue_type[16];	/* "classic" or "quorum" */
	/* RabbitMQ cluster (issue 15): "host[:port],..."; "" = amqp_host */
	char	amqp_hosts[CONF_STR_MAX * 4];
	int	amqp_quorum_replicas;	/* x-quorum-initial-group-size, 0 = broker's */
	/* the local publisher (pubd/, issue 14) */
	char	amqp_publisher[16];	/* "direct" or "local" (pubd) */
	char	pubd_socket[108];	/* sun_path */
	int	pubd_connections;

	/* MariaDB / MySQL */
	char	mysql_host[CONF_STR_MAX];
	int	mysql_port;
	char	mysql_socket[CONF_STR_MAX];
	char	mysql_database[64];
	char	mysql_query_user[64];
	char	mysql_query_password[CONF_STR_MAX];
	char	mysql_consumer_user[64];
	char	mysql_consumer_password[CONF_STR_MAX];
	char	mysql_catalog_user[64];
	char	mysql_catalog_password[CONF_STR_MAX];
	int	mysql_timeout_ms;
	/* the query responder's reads (a replica); "" = mysql_host */
	char	mysql_read_host[CONF_STR_MAX];
	int	mysql_read_port;		/* 0 = mysql_port */
	int	mysql_read_max_lag_s;	/* replica behind more: read the primary */

	/* DynamoDB */
	char	dynamodb_endpoint[CONF_STR_MAX];
	char	dynamodb_region[64];
	char	dynamodb_table[CONF_STR_MAX];
	char	aws_access_key_id[CONF_STR_MAX];
	char	aws_secret_access_key[CONF_STR_MAX];
	char	aws_session_token[CONF_STR_MAX * 8];
	char	aws_credentials[16];	/* static, file, imds, auto (awscreds.h) */
	char	aws_shared_credentials_file[CONF_STR_MAX];	/* "" = ~/.aws/credentials */
	char	aws_profile[128];
	char	aws_imds_endpoint[CONF_STR_MAX];
	int	aws_credentials_refresh_s;
	int	dynamodb_timeout_ms;

	/* consumer */
	int	consumer_prefetch;
	int	consumer_batch;
	int	consumer_batch_wait_ms;
	int	consumer_ddb_parallel;
	char	consumer_ddb_write[16];	/* "batch" or "put" */
	int	consumer_retry_max_ms;
	int	sweeper_interval_ms;
	int	sweeper_stale_ms;
};

enum conf_type {
	CONF_INT,
	CONF_STR
};

struct conf_def {
	const char	*name;
	enum conf_type	 type;
	long		 min, max;	/* INT: range; STR: max length */
	const char	*def;
	size_t		 off;
	size_t		 size;		/* STR: buffer size */
	int		 secret;	/* never printed */
	const char	*env_alias;	/* extra environment name, or NULL */
};

extern const struct conf_def	conf_defs[];
extern const size_t		conf_ndefs;

/* Fills c with defaults, then path (if not NULL; a missing file is an error
 * only if must_exist), then the environment.  On error returns -1 and writes
 * a "file:line: reason" message into err. */
int	conf_load(struct conf *c, const char *path, int must_exist,
	    char *err, size_t errlen);
/* Sets one setting by name from text; returns 0 or -1 with err set. */
int	conf_set(struct conf *c, const char *name, const char *value,
	    char *err, size_t errlen);
/* Writes every setting as "name = value" (secrets as "****") to fd. */
void	conf_dump(const struct conf *c, int fd);
/* The default config path: $BOXOFFICE_CONF, else /etc/boxoffice/boxoffice.conf. */
const char *conf_default_path(void);

#endif
