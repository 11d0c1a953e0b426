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

enum row_label
valid_row_label(const char *s, long *out)
{
	long	v = 0;
	size_t	i;

	if (s == NULL || *s == '\0')
		return ROW_LABEL_MALFORMED;
	if (isdigit((unsigned char)*s)) {
		if (valid_digits(s, &v) != 0) {
			for (i = 0; s[i] != '\0'; i++)
				if (!isdigit((unsigned char)s[i]))
					return ROW_LABEL_MALFORMED;
			return ROW_LABEL_RANGE;	/* too many digits */
		}
		if (v < 1 || v > SEAT_MAX)
			return ROW_LABEL_RANGE;
		*out = v;
		return ROW_LABEL_OK;
	}
	for (i = 0; s[i] != '\0'; i++) {
		unsigned char ch = (unsigned char)toupper((unsigned char)s[i]);

		if (ch < 'A' || ch > 'Z')
			return ROW_LABEL_MALFORMED;
		if (v > (SEAT_MAX - 26) / 26) {
			/* keep scanning so junk still reads as malformed */
			v = SEAT_MAX + 1L;
			continue;
		}
		v = v * 26 + (ch - 'A' + 1);
	}
	if (v > SEAT_MAX)
		return ROW_LABEL_RANGE;
	*out = v;
	return ROW_LABEL_OK;
}
