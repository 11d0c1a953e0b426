/* SPDX-License-Identifier: ISC */
/*
 * valid.c - validators for untrusted text (see valid.h).
 */
#include <ctype.h>
#include <string.h>

#include "valid.h"

static int
id_char(unsigned char ch)
{
	return (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') ||
	    (ch >= '0' && ch <= '9') || ch == '_' || ch == '-';
}

static int
hexval(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int
valid_pct_decode(const char *src, size_t len, char *dst, size_t size,
    int plus_space)
{
	size_t	i, o = 0;
	int	hi, lo;
	char	c;

	if (size == 0)
		return -1;
	for (i = 0; i < len; i++) {
		c = src[i];
		if (c == '%') {
			if (len - i < 3 || (hi = hexval(src[i + 1])) < 0 ||
			    (lo = hexval(src[i + 2])) < 0)
				return -1;
			c = (char)(hi << 4 | lo);
			i += 2;
		} else if (c == '+' && plus_space)
			c = ' ';
		if (c == '\0' || o >= size - 1)
			return -1;
		dst[o++] = c;
	}
	dst[o] = '\0';
	return (int)o;
}

int
valid_id_n(const char *s, size_t len)
{
	size_t i;

	if (len == 0 || len > ID_MAX)
		return 0;
	for (i = 0; i < len; i++)
		if (!id_char((unsigned char)s[i]))
			return 0;
	return 1;
}

int
valid_id(const char *s)
{
	return s != NULL && valid_id_n(s, strnlen(s, ID_MAX + 1));
}

int
valid_uuid(const char *s)
{
	size_t i;

	if (s == NULL || strnlen(s, UUID_LEN + 1) != UUID_LEN)
		return 0;
	for (i = 0; i < UUID_LEN; i++) {
		if (i == 8 || i == 13 || i == 18 || i == 23) {
			if (s[i] != '-')
				return 0;
		} else if (!((s[i] >= '0' && s[i] <= '9') ||
		    (s[i] >= 'a' && s[i] <= 'f')))
			return 0;
	}
	return 1;
}

int
valid_digits(const char *s, long *out)
{
	long	v = 0;
	size_t	i;

	if (s == NULL || *s == '\0')
		return -1;
	for (i = 0; s[i] != '\0'; i++) {
		if (i >= 18 || s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	*out = v;
	return 0;
}

int
valid_long(const char *s, long min, long max, long *out)
{
	long	v;
	int	neg = 0;

	if (s == NULL)
		return -1;
	if (*s == '-') {
		neg = 1;
		s++;
	}
	if (valid_digits(s, &v) != 0)
		return -1;
	if (neg)
		v = -v;
	if (v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

enum valid_row
valid_row_label(const char *s, long *out)
{
	long	v = 0;
	size_t	i;

	if (s == NULL || *s == '\0')
		return VALID_ROW_MALFORMED;
	if (isdigit((unsigned char)*s)) {
		if (valid_digits(s, &v) != 0) {
			for (i = 0; s[i] != '\0'; i++)
				if (!isdigit((unsigned char)s[i]))
					return VALID_ROW_MALFORMED;
			return VALID_ROW_RANGE;	/* too many digits */
		}
		if (v < 1 || v > SEAT_MAX)
			return VALID_ROW_RANGE;
		*out = v;
		return VALID_ROW_OK;
	}
	for (i = 0; s[i] != '\0'; i++) {
		unsigned char ch = (unsigned char)toupper((unsigned char)s[i]);

		if (ch < 'A' || ch > 'Z')
			return VALID_ROW_MALFORMED;
		if (v > (SEAT_MAX - (ch - 'A' + 1)) / 26) {
			/* keep scanning so junk still reads as malformed */
			v = SEAT_MAX + 1L;
			continue;
		}
		v = v * 26 + (ch - 'A' + 1);
	}
	if (v > SEAT_MAX)
		return VALID_ROW_RANGE;
	*out = v;
	return VALID_ROW_OK;
}

/*
 * A strict RFC 8259 recogniser run before json-c, which accepts a few things
 * that are not JSON even with JSON_TOKENER_STRICT.  Recursive descent whose
 * depth is capped by depth_max; no allocation.  depth counts the containers
 * around the value being read; a value needs depth < depth_max, which is
 * json-c's json_tokener_new_ex(depth_max) limit.
 */
struct jscan {
	const char	*s;
	size_t		 len, off;
	int		 depth, depth_max;
};

static int	jscan_value(struct jscan *);

static void
jscan_ws(struct jscan *j)
{
	while (j->off < j->len && (j->s[j->off] == ' ' ||
	    j->s[j->off] == '\t' || j->s[j->off] == '\n' ||
	    j->s[j->off] == '\r'))
		j->off++;
}

/* Consumes c if it is next; returns 1 if it was. */
static int
jscan_eat(struct jscan *j, char c)
{
	if (j->off < j->len && j->s[j->off] == c) {
		j->off++;
		return 1;
	}
	return 0;
}

static int
jscan_isdigit(struct jscan *j)
{
	return j->off < j->len && j->s[j->off] >= '0' && j->s[j->off] <= '9';
}

static int
jscan_digits(struct jscan *j)
{
	if (!jscan_isdigit(j))
		return -1;
	while (jscan_isdigit(j))
		j->off++;
	return 0;
}

static int
jscan_number(struct jscan *j)
{
	jscan_eat(j, '-');
	if (jscan_eat(j, '0')) {
		if (jscan_isdigit(j))
			return -1;		/* leading zero */
	} else if (jscan_digits(j) != 0)
		return -1;
	if (jscan_eat(j, '.') && jscan_digits(j) != 0)
		return -1;
	if (jscan_eat(j, 'e') || jscan_eat(j, 'E')) {
		if (!jscan_eat(j, '+'))
			jscan_eat(j, '-');
		if (jscan_digits(j) != 0)
			return -1;
	}
	return 0;
}

/* The rest of a UTF-8 sequence whose lead byte c was just read (RFC 3629:
 * no overlong forms, no surrogates, nothing above U+10FFFF). */
static int
jscan_utf8(struct jscan *j, unsigned char c)
{
	unsigned char	lo = 0x80, hi = 0xbf, b;
	int		n;

	if (c >= 0xc2 && c <= 0xdf)
		n = 1;
	else if (c >= 0xe0 && c <= 0xef) {
		n = 2;
		if (c == 0xe0)
			lo = 0xa0;
		else if (c == 0xed)
			hi = 0x9f;
	} else if (c >= 0xf0 && c <= 0xf4) {
		n = 3;
		if (c == 0xf0)
			lo = 0x90;
		else if (c == 0xf4)
			hi = 0x8f;
	} else
		return -1;
	for (; n > 0; n--) {
		if (j->off >= j->len)
			return -1;
		b = (unsigned char)j->s[j->off++];
		if (b < lo || b > hi)
			return -1;
		lo = 0x80;
		hi = 0xbf;
	}
	return 0;
}

/* A string; name: a member name, where \u0000 is refused (json-c cuts a
 * name at its NUL: "venueId\u0000" would replace "venueId"). */
static int
jscan_string(struct jscan *j, int name)
{
	unsigned char	c;
	int		i, nonzero;

	if (!jscan_eat(j, '"'))
		return -1;
	while (j->off < j->len) {
		c = (unsigned char)j->s[j->off++];
		if (c == '"')
			return 0;
		if (c < 0x20)
			return -1;
		if (c >= 0x80) {
			if (jscan_utf8(j, c) != 0)
				return -1;
			continue;
		}
		if (c != '\\')
			continue;
		if (j->off >= j->len)
			return -1;
		c = (unsigned char)j->s[j->off++];
		if (c == 'u') {
			if (j->len - j->off < 4)
				return -1;
			for (i = nonzero = 0; i < 4; i++) {
				c = (unsigned char)j->s[j->off++];
				if (!isxdigit(c))
					return -1;
				nonzero |= c != '0';
			}
			if (name && !nonzero)
				return -1;
		} else if (strchr("\"\\/bfnrt", c) == NULL || c == '\0')
			return -1;
	}
	return -1;
}

static int
jscan_word(struct jscan *j, const char *w)
{
	size_t n = strlen(w);

	if (j->len - j->off < n || memcmp(j->s + j->off, w, n) != 0)
		return -1;
	j->off += n;
	return 0;
}

/* An array or object; the opening bracket is next. */
static int
jscan_container(struct jscan *j)
{
	char	close = j->s[j->off] == '{' ? '}' : ']';

	j->depth++;
	j->off++;
	jscan_ws(j);
	if (!jscan_eat(j, close)) {
		for (;;) {
			if (close == '}') {
				if (jscan_string(j, 1) != 0)
					return -1;
				jscan_ws(j);
				if (!jscan_eat(j, ':'))
					return -1;
			}
			if (jscan_value(j) != 0)
				return -1;
			if (jscan_eat(j, close))
				break;
			if (!jscan_eat(j, ','))
				return -1;
			jscan_ws(j);
		}
	}
	j->depth--;
	return 0;
}

/* A value with the whitespace around it. */
static int
jscan_value(struct jscan *j)
{
	int r;

	jscan_ws(j);
	if (j->off >= j->len || j->depth >= j->depth_max)
		return -1;
	switch (j->s[j->off]) {
	case '{':
	case '[':
		r = jscan_container(j);
		break;
	case '"':
		r = jscan_string(j, 0);
		break;
	case 't':
		r = jscan_word(j, "true");
		break;
	case 'f':
		r = jscan_word(j, "false");
		break;
	case 'n':
		r = jscan_word(j, "null");
		break;
	default:
		r = jscan_number(j);
		break;
	}
	jscan_ws(j);
	return r;
}

int
valid_json(const char *s, size_t len, int depth_max)
{
	struct jscan j = { s, len, 0, 0, depth_max };

	return s != NULL && jscan_value(&j) == 0 && j.off == len;
}
