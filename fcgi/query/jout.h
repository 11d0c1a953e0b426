/* SPDX-License-Identifier: ISC */
/*
 * jout.h - a JSON writer into a growable buffer with a hard size cap, for
 * answers built from many rows (the query responder).  Commas and nesting
 * are tracked for the caller; strings are escaped; numbers are written from
 * their decimal text, so money stays exact ("320.00").  Pure: no I/O.
 *
 * Errors are sticky: after the first failure (cap reached, out of memory,
 * nesting too deep or mismatched) every call does nothing and jout_error()
 * says what happened.  `key` is the member name inside an object and NULL
 * inside an array or at the top.
 */
#ifndef BOX_JOUT_H
#define BOX_JOUT_H

#include <stddef.h>

#define JOUT_DEPTH_MAX	16

enum jout_err {
	JOUT_OK,
	JOUT_TOO_LARGE,		/* the answer would pass the cap */
	JOUT_NOMEM,
	JOUT_MISUSE		/* bad nesting, bad number text */
};

struct jout {
	char		*buf;
	size_t		 len;
	size_t		 size;
	size_t		 cap;
	enum jout_err	 err;
	unsigned	 depth;
	unsigned char	 first[JOUT_DEPTH_MAX];	/* no member yet at depth */
};

/* Starts an empty document of at most cap bytes (nothing allocated yet). */
void	jout_init(struct jout *j, size_t cap);
/* Frees the buffer; j may be initialised again. */
void	jout_free(struct jout *j);
/* Forgets the content, keeps the buffer and the cap. */
void	jout_reset(struct jout *j);

void	jout_obj_open(struct jout *j, const char *key);
void	jout_obj_close(struct jout *j);
void	jout_arr_open(struct jout *j, const char *key);
void	jout_arr_close(struct jout *j);
/* A string member / element (escaped). */
void	jout_str(struct jout *j, const char *key, const char *s);
void	jout_int(struct jout *j, const char *key, long long v);
/* A number from its text, which must be a JSON number ("320.00", "0"). */
void	jout_num(struct jout *j, const char *key, const char *text);
void	jout_null(struct jout *j, const char *key);
void	jout_bool(struct jout *j, const char *key, int v);
/* A value already in JSON (another finished jout, a ticket). */
void	jout_raw(struct jout *j, const char *key, const char *json, size_t len);

/* The error so far (JOUT_OK if none). */
enum jout_err jout_error(const struct jout *j);
/* The finished document (NUL-terminated, owned by j) and its length, or
 * NULL if there was an error or an object/array is still open. */
const char *jout_done(struct jout *j, size_t *len);

/* 1 if s is a JSON number (RFC 8259 grammar), else 0. */
int	jout_is_number(const char *s);

#endif
