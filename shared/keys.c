/* SPDX-License-Identifier: ISC */
/*
 * keys.c - Redis key names and slots (see keys.h).
 */
#include <stdio.h>
#include <string.h>

#include "keys.h"

static const char *const key_prefix[KEY__MAX] = {
	"bo:zone:", "bo:left:", "bo:seat:", "bo:own:", "bo:pend:", "bo:sweep:",
	"bo:ords:", "bo:holds:", "bo:hexp:", "bo:hend:"
};

static int
fits(int n, size_t size)
{
	return n >= 0 && (size_t)n < size ? n : -1;
}

int
keys_tag(const char *event, long zone, char *tag, size_t size)
{
	return fits(snprintf(tag, size, "%s:%ld", event, zone), size);
}

int
keys_build(enum key_kind kind, const char *tag, char *buf, size_t size)
{
	if ((unsigned)kind >= KEY__MAX)
		return -1;
	return fits(snprintf(buf, size, "%s{%s}", key_prefix[kind], tag), size);
}

int
keys_idem(const char *tag, const char *key, char *buf, size_t size)
{
	return fits(snprintf(buf, size, "bo:idem:{%s}:%s", tag, key), size);
}

int
keys_idem_hashed(const char *tag, const char *key_hash, char *buf,
    size_t size)
{
	return fits(snprintf(buf, size, "bo:idem:{%s}:#%s", tag, key_hash),
	    size);
}

unsigned
keys_crc16(const char *s, size_t len)
{
	unsigned	crc = 0;
	size_t		i;
	int		b;

	for (i = 0; i < len; i++) {
		crc ^= (unsigned)(unsigned char)s[i] << 8;
		for (b = 0; b < 8; b++)
			crc = crc & 0x8000 ? (crc << 1) ^ 0x1021 : crc << 1;
		crc &= 0xffff;
	}
	return crc;
}

unsigned
keys_slot(const char *tag)
{
	return keys_crc16(tag, strlen(tag)) % 16384;
}

#define SLOTS	16384
static const char alnum[] = "0123456789abcdefghijklmnopqrstuvwxyz";

const char *
keys_slot_tag(unsigned slot)
{
	static char	tags[SLOTS][KEYS_SLOT_TAG_MAX];
	static int	built;
	char		s[KEYS_SLOT_TAG_MAX];
	unsigned	left = SLOTS, k, d[4];
	int		len, i;

	if (!built) {
		for (len = 1; len <= 4 && left > 0; len++) {
			memset(d, 0, sizeof(d));
			for (;;) {
				for (i = 0; i < len; i++)
					s[i] = alnum[d[i]];
				k = keys_crc16(s, (size_t)len) % SLOTS;
				if (tags[k][0] == '\0') {
					memcpy(tags[k], s, (size_t)len);
					left--;
				}
				/* the next string: the last character first */
				for (i = len - 1; i >= 0 &&
				    ++d[i] == sizeof(alnum) - 1; i--)
					d[i] = 0;
				if (i < 0)
					break;
			}
		}
		built = 1;
	}
	return tags[slot % SLOTS];
}

static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
    "0123456789-_";

static int
hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

static int
b64val(char c)
{
	const char *p;

	return c != '\0' && (p = strchr(b64, c)) != NULL ? (int)(p - b64) : -1;
}

/* Where an id keeps its slot: 4 hex digits at 32 (a UUID), 3 base64url
 * characters at 18 (a token, 22 chars: a holdId made before 2026-12-05)
 * or at 22 (a holdId, 25 chars: 22 of 128 random bits, then the slot);
 * -1 if not such an id.  *uuid says whether hex. */
static int
id_stamp_at(const char *id, int *uuid)
{
	size_t len = strlen(id);

	*uuid = len == 36;
	return len == 36 ? 32 : len == 22 ? 18 : len == 25 ? 22 : -1;
}

/* The 16 (UUID) or 18 (token) bits that hold the slot; -1 if not such an
 * id.  *uuid says which. */
static long
id_bits(const char *id, int *uuid)
{
	long	v = 0;
	int	at, i, x;

	if ((at = id_stamp_at(id, uuid)) < 0)
		return -1;
	for (i = 0; i < (*uuid ? 4 : 3); i++) {
		x = *uuid ? hexval(id[at + i]) : b64val(id[at + i]);
		if (x < 0)
			return -1;
		v = (v << (*uuid ? 4 : 6)) | x;
	}
	return v;
}

int
keys_id_slot(const char *id)
{
	long	v;
	int	uuid;

	return (v = id_bits(id, &uuid)) < 0 ? -1 : (int)(v & (SLOTS - 1));
}

int
keys_id_stamp(char *id, unsigned slot)
{
	long	v;
	int	uuid, at, i;

	if ((v = id_bits(id, &uuid)) < 0)
		return -1;
	at = id_stamp_at(id, &uuid);
	v = (v & ~(long)(SLOTS - 1)) | (long)(slot % SLOTS);
	for (i = uuid ? 3 : 2; i >= 0; i--) {
		if (uuid) {
			id[at + i] = "0123456789abcdef"[v & 15];
			v >>= 4;
		} else {
			id[at + i] = b64[v & 63];
			v >>= 6;
		}
	}
	return 0;
}

int
keys_id(const char *prefix, unsigned slot, const char *id, char *buf,
    size_t size)
{
	return fits(snprintf(buf, size, "%s{%s}%s", prefix,
	    keys_slot_tag(slot), id), size);
}

int
keys_of_id(const char *prefix, const char *id, char *buf, size_t size)
{
	int slot;

	if ((slot = keys_id_slot(id)) < 0)
		return -1;
	return keys_id(prefix, (unsigned)slot, id, buf, size);
}

int
keys_legacy(const char *prefix, const char *id, char *buf, size_t size)
{
	return fits(snprintf(buf, size, "%s%s", prefix, id), size);
}

long
keys_seat_bit(long row, long col, long cols)
{
	return (row - 1) * cols + (col - 1);
}
