/* SPDX-License-Identifier: ISC */
/*
 * keys.c - Redis key names and shard choice (see keys.h).
 */
#include <stdio.h>
#include <string.h>

#include "keys.h"

static const char *const key_prefix[KEY__MAX] = {
	"bo:zone:", "bo:left:", "bo:seat:", "bo:own:", "bo:pend:", "bo:sweep:",
	"bo:ords:", "bo:holds:", "bo:hexp:"
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
keys_ticket(const char *ticket_id, char *buf, size_t size)
{
	return fits(snprintf(buf, size, "bo:tkt:%s", ticket_id), size);
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
keys_shard(const char *tag, unsigned nshards)
{
	if (nshards <= 1)
		return 0;
	return (keys_crc16(tag, strlen(tag)) % 16384) % nshards;
}

long
keys_seat_bit(long row, long col, long cols)
{
	return (row - 1) * cols + (col - 1);
}
