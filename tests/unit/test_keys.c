/* SPDX-License-Identifier: ISC */
/*
 * test_keys.c - unit tests of shared/keys.c: Redis key names, hash tags,
 * CRC16 and the shard of a zone.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "keys.h"
#include "valid.h"

static void
test_tag(void **state)
{
	char	tag[TAG_MAX], ev[ID_MAX + 1];

	(void)state;
	assert_int_equal(keys_tag("Event1", 7, tag, sizeof(tag)), 8);
	assert_string_equal(tag, "Event1:7");
	assert_int_equal(keys_tag("E", 2147483647L, tag, sizeof(tag)), 12);
	assert_string_equal(tag, "E:2147483647");
	/* the longest tag fits TAG_MAX */
	memset(ev, 'e', ID_MAX);
	ev[ID_MAX] = '\0';
	assert_int_equal(keys_tag(ev, 2147483647L, tag, sizeof(tag)),
	    ID_MAX + 1 + 10);
	/* too small: -1, never a truncated tag used as a key */
	assert_int_equal(keys_tag("Event1", 7, tag, 8), -1);
	assert_int_equal(keys_tag("Event1", 7, tag, 9), 8);
}

static void
test_build(void **state)
{
	char	key[KEY_MAX], tag[TAG_MAX], ev[ID_MAX + 1];

	(void)state;
	assert_int_equal(keys_build(KEY_ZONE, "Event1:7", key, sizeof(key)),
	    strlen("bo:zone:{Event1:7}"));
	assert_string_equal(key, "bo:zone:{Event1:7}");
	keys_build(KEY_LEFT, "Event1:7", key, sizeof(key));
	assert_string_equal(key, "bo:left:{Event1:7}");
	keys_build(KEY_SEAT, "Event1:7", key, sizeof(key));
	assert_string_equal(key, "bo:seat:{Event1:7}");
	keys_build(KEY_OWN, "Event1:7", key, sizeof(key));
	assert_string_equal(key, "bo:own:{Event1:7}");
	keys_build(KEY_PEND, "Event1:7", key, sizeof(key));
	assert_string_equal(key, "bo:pend:{Event1:7}");
	keys_build(KEY_SWEEP, "Event1:7", key, sizeof(key));
	assert_string_equal(key, "bo:sweep:{Event1:7}");
	assert_int_equal(keys_build(KEY__MAX, "Event1:7", key, sizeof(key)), -1);
	assert_int_equal(keys_build((enum key_kind)-1, "E:1", key, sizeof(key)),
	    -1);
	assert_int_equal(keys_build(KEY_ZONE, "Event1:7", key, 18), -1);
	assert_int_equal(keys_build(KEY_ZONE, "Event1:7", key, 19), 18);
	/* the longest tag makes keys that fit KEY_MAX */
	memset(ev, 'e', ID_MAX);
	ev[ID_MAX] = '\0';
	assert_true(keys_tag(ev, 2147483647L, tag, sizeof(tag)) > 0);
	assert_true(keys_build(KEY_SWEEP, tag, key, sizeof(key)) > 0);
	assert_true(keys_build(KEY_PEND, tag, key, sizeof(key)) > 0);
	/* an Idempotency-Key's record, the longest key with it */
	assert_true(keys_idem(tag, ev, key, sizeof(key)) > 0);
	assert_int_equal(keys_idem("Event1:7", "K-1_a", key, sizeof(key)),
	    strlen("bo:idem:{Event1:7}:K-1_a"));
	assert_string_equal(key, "bo:idem:{Event1:7}:K-1_a");
	assert_int_equal(keys_idem("Event1:7", "", key, sizeof(key)), 19);
	assert_int_equal(keys_idem("Event1:7", "K", key, 20), -1);
	/* the name a rebuild puts a record back under: the key's HMAC,
	 * behind a '#' no key has; the longest tag with it fits */
	memset(ev, 'a', 64);
	ev[64] = '\0';
	assert_true(keys_idem_hashed(tag, ev, key, sizeof(key)) > 0);
	assert_int_equal(keys_idem_hashed("Event1:7", ev, key, sizeof(key)),
	    strlen("bo:idem:{Event1:7}:#") + 64);
	assert_memory_equal(key, "bo:idem:{Event1:7}:#aaaa", 24);
	assert_int_equal(keys_idem_hashed("Event1:7", "", key, sizeof(key)),
	    20);
	assert_string_equal(key, "bo:idem:{Event1:7}:#");
	assert_int_equal(keys_idem_hashed("Event1:7", "ab", key, 22), -1);
}

static void
test_id_keys(void **state)
{
	char	 key[KEY_MAX], uuid[UUID_LEN + 1], tok[23], hid[26];
	unsigned slot;

	(void)state;
	strcpy(uuid, "0190f5e2-7a3b-7c4d-8e5f-0123456789ab");
	strcpy(tok, "AbCdEfGhIjKlMnOpQrStUw");
	/* a holdId: 22 characters of 128 random bits, then 3 for the slot;
	 * stamping leaves every one of the 22 as it was */
	strcpy(hid, "AbCdEfGhIjKlMnOpQrStUwAAA");
	for (slot = 0; slot < 16384; slot += 4093) {
		assert_int_equal(keys_id_stamp(hid, slot), 0);
		assert_int_equal(keys_id_slot(hid), (int)slot);
		assert_memory_equal(hid, "AbCdEfGhIjKlMnOpQrStUw", 22);
		assert_int_equal(strlen(hid), 25);
	}
	assert_int_equal(keys_id_slot("AbCdEfGhIjKlMnOpQrStUwA"), -1);
	assert_int_equal(keys_id_slot("AbCdEfGhIjKlMnOpQrStUwAA*"), -1);
	/* the slot goes into the last 14 bits, the rest is kept */
	for (slot = 0; slot < 16384; slot += 4093) {
		assert_int_equal(keys_id_stamp(uuid, slot), 0);
		assert_int_equal(keys_id_slot(uuid), (int)slot);
		assert_memory_equal(uuid, "0190f5e2-7a3b-7c4d-8e5f-01234567", 32);
		assert_int_equal(keys_id_stamp(tok, slot), 0);
		assert_int_equal(keys_id_slot(tok), (int)slot);
		assert_memory_equal(tok, "AbCdEfGhIjKlMnOpQr", 18);
		assert_int_equal(tok[21], 'w');
	}
	assert_int_equal(keys_id_stamp(uuid, 16383), 0);
	/* 0x89ab: top 2 bits 10 kept, 0x3fff below */
	assert_string_equal(uuid + 32, "bfff");
	assert_int_equal(keys_id_slot("short"), -1);
	assert_int_equal(keys_id_slot("0190f5e2-7a3b-7c4d-8e5f-0123456789aG"),
	    -1);
	/* the slot tag of every slot is in that slot (tests/lib/box.py has
	 * the same rule) */
	for (slot = 0; slot < 16384; slot++) {
		const char *t = keys_slot_tag(slot);

		assert_true(strlen(t) >= 1 && strlen(t) <= 4);
		assert_int_equal(keys_crc16(t, strlen(t)) % 16384, slot);
	}
	assert_string_equal(keys_slot_tag(keys_crc16("0", 1) % 16384), "0");
	/* a key by id shares the slot of its zone */
	keys_id_stamp(uuid, keys_slot("Event1:1"));
	assert_true(keys_of_id(KEY_TKT, uuid, key, sizeof(key)) > 0);
	assert_int_equal(strncmp(key, "bo:tkt:{", 8), 0);
	assert_string_equal(strchr(key, '}') + 1, uuid);
	assert_int_equal(keys_crc16(key + 8, (size_t)(strchr(key, '}') -
	    key - 8)) % 16384, keys_slot("Event1:1"));
	assert_int_equal(keys_legacy(KEY_OIX, uuid, key, sizeof(key)),
	    7 + UUID_LEN);
	assert_int_equal(keys_of_id(KEY_TKT, uuid, key, 20), -1);
}

static void
test_crc16(void **state)
{
	(void)state;
	/* CRC-16/XMODEM check value */
	assert_int_equal(keys_crc16("123456789", 9), 0x31C3);
	assert_int_equal(keys_crc16("", 0), 0);
	/* Redis Cluster's own examples (CLUSTER KEYSLOT) */
	assert_int_equal(keys_crc16("foo", 3) % 16384, 12182);
	assert_int_equal(keys_crc16("bar", 3) % 16384, 5061);
	assert_int_equal(keys_crc16("somekey", 7) % 16384, 11058);
	assert_int_equal(keys_crc16("hello", 5) % 16384, 866);
	/* len is respected and bytes >= 0x80 are unsigned */
	assert_int_equal(keys_crc16("foobar", 3) % 16384, 12182);
	assert_int_equal(keys_crc16("\xff", 1), 0x1EF0);
	assert_true(keys_crc16("Event1:1", 8) <= 0xffff);
}

static void
test_slot(void **state)
{
	(void)state;
	/* the same formula as tests/lib/box.py and CLUSTER KEYSLOT */
	assert_int_equal(keys_crc16("Event1:1", 8), 59258);
	assert_int_equal(keys_slot("Event1:1"), 59258 % 16384);
	assert_int_equal(keys_slot("foo"), 12182);
}

static void
test_seat_bit(void **state)
{
	(void)state;
	assert_int_equal(keys_seat_bit(1, 1, 30), 0);
	assert_int_equal(keys_seat_bit(1, 30, 30), 29);
	assert_int_equal(keys_seat_bit(2, 1, 30), 30);
	assert_int_equal(keys_seat_bit(26, 30, 30), 779);	/* 26 x 30 - 1 */
	assert_int_equal(keys_seat_bit(1, 8, 8), 7);		/* one-row zone */
	assert_int_equal(keys_seat_bit(3, 4, 4), 11);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tag),
		cmocka_unit_test(test_build),
		cmocka_unit_test(test_id_keys),
		cmocka_unit_test(test_crc16),
		cmocka_unit_test(test_slot),
		cmocka_unit_test(test_seat_bit),
	};

	return cmocka_run_group_tests_name("keys", tests, NULL, NULL);
}
