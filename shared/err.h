/* SPDX-License-Identifier: ISC */
/*
 * err.h - the error fields of every connection object (docs/hacking.md,
 * "How errors travel"), hiredis-style:
 *
 *	int	err;		 0, or enum err_kind of the last failure
 *	char	errstr[ERRSTR_MAX]; what failed: the server and operation
 *
 * A function on a connection returns -1 (or NULL) after err_set(); the
 * caller reads errstr to log or answer, err to tell a lost connection from
 * a refusal.
 */
#ifndef BOX_ERR_H
#define BOX_ERR_H

#define ERRSTR_MAX	256	/* every connection object's errstr */

enum err_kind {
	ERR_NONE = 0,
	ERR_IO,		/* the connection failed or is gone: try again later */
	ERR_SERVER,	/* the server answered with an error or a refusal */
	ERR_OTHER	/* no memory, bad settings, an answer we cannot use */
};

/* "none", "io", "server", "other" ("?" for anything else). */
const char *err_kind_str(int kind);

/*
 * Records a failure: *err = kind, errstr (ERRSTR_MAX bytes) = the message,
 * ending in "..." when it does not fit (fmt_trunc()).
 */
void	err_set(int *err, char errstr[ERRSTR_MAX], enum err_kind kind,
	    const char *fmt, ...) __attribute__((format(printf, 4, 5)));

#endif
