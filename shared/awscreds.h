/* SPDX-License-Identifier: ISC */
/*
 * awscreds.h - AWS credentials for DynamoDB (docs/config.md,
 * "aws_credentials"):
 *
 *   static   aws_access_key_id / aws_secret_access_key / aws_session_token
 *            of the settings (or AWS_* variables): as before, never refreshed
 *   file     the shared credentials file (aws_shared_credentials_file, else
 *            $HOME/.aws/credentials), section aws_profile (AWS_PROFILE)
 *   imds     the EC2 instance metadata service, IMDSv2: PUT a session token,
 *            GET the role name, GET the role's credentials (with a session
 *            token and an Expiration), fetched again aws_credentials_refresh_s
 *            before they expire
 *   auto     what the AWS SDKs do: AWS_ACCESS_KEY_ID in the environment,
 *            else the file if it has the profile, else imds
 *
 * The parsers (credentials file, metadata JSON) do no I/O and are
 * unit-tested alone.  Functions returning int give 0 or -1 with errstr.
 */
#ifndef BOX_AWSCREDS_H
#define BOX_AWSCREDS_H

#include <stddef.h>

#include "conf.h"

#define AWSCREDS_KEY_MAX	CONF_STR_MAX
#define AWSCREDS_TOKEN_MAX	(CONF_STR_MAX * 8)
#define AWSCREDS_FILE_MAX	(64 * 1024)	/* cap on a credentials file */
#define AWSCREDS_RESP_MAX	(16 * 1024)	/* cap on a metadata answer */
#define AWSCREDS_RETRY_MS	1000	/* between failed refreshes */

enum awscreds_source {
	AWSCREDS_STATIC,
	AWSCREDS_FILE,
	AWSCREDS_IMDS,
	AWSCREDS_AUTO,
	AWSCREDS__MAX
};

/* One set of credentials. */
struct awscreds_set {
	char		access_key[AWSCREDS_KEY_MAX];
	char		secret_key[AWSCREDS_KEY_MAX];
	char		token[AWSCREDS_TOKEN_MAX];	/* "" = none */
	long long	expires_ms;	/* wall clock; 0 = never */
};

struct awscreds {
	enum awscreds_source	source;	/* after auto was resolved */
	struct awscreds_set	cur;
	unsigned long		generation;	/* +1 for each new set */
	long long		next_try_ms;	/* after a failed refresh */
	char			file[CONF_STR_MAX];
	char			profile[128];
	char			imds[CONF_STR_MAX];
	int			refresh_ms;	/* refresh this long before */
	int			timeout_ms;
	char			errstr[256];
};

/* The source named by the setting aws_credentials, or -1. */
int	awscreds_source_parse(const char *name);
const char *awscreds_source_str(enum awscreds_source s);

/* Sets a up from the settings and gets the first credentials (for file
 * and imds: reads / fetches them now).  Returns 0 or -1 with errstr. */
int	awscreds_init(struct awscreds *a, const struct conf *c);

/* Makes a->cur valid at wall-clock now_ms: fetches new credentials if they
 * expire within refresh_ms (no more often than AWSCREDS_RETRY_MS after a
 * failure).  Returns 1 if a->cur changed, 0 if not, -1 with errstr if the
 * current ones are expired and no new ones could be had. */
int	awscreds_refresh(struct awscreds *a, long long now_ms);

/* Pure: the keys of section profile of a credentials file (INI: "[name]",
 * "key = value", '#'/';' comments).  Returns 0, or -1 with err (no such
 * profile, no key id or secret, a value too long). */
int	awscreds_parse_file(const char *text, const char *profile,
	    struct awscreds_set *out, char *err, size_t errlen);
/* Pure: the metadata service's credentials JSON (Code "Success",
 * AccessKeyId, SecretAccessKey, Token, Expiration RFC 3339).  Returns 0 or
 * -1 with err. */
int	awscreds_parse_imds(const char *json, struct awscreds_set *out,
	    char *err, size_t errlen);

#endif
