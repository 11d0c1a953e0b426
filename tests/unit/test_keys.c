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
}

static void
test_ticket_key(void **state)
{
	char key[KEY_MAX];

	(void)state;
	assert_int_equal(keys_ticket("0190f5e2-7a3b-7c4d-8e5f-0123456789ab", key,
	    sizeof(key)), 7 + UUID_LEN);
	assert_string_equal(key, "bo:tkt:0190f5e2-7a3b-7c4d-8e5f-0123456789ab");
	assert_int_equal(keys_ticket("0190f5e2-7a3b-7c4d-8e5f-0123456789ab", key,
	    20), -1);
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
test_shard(void **state)
{
	char	 tag[TAG_MAX];
	unsigned n, s, seen[5];
	long	 z;

	(void)state;
	assert_int_equal(keys_shard("Event1:1", 0), 0);
	assert_int_equal(keys_shard("Event1:1", 1), 0);
	/* the same formula as tests/lib/box.py zone_node() */
	assert_int_equal(keys_crc16("Event1:1", 8), 59258);
	assert_int_equal(keys_shard("Event1:1", 3), 59258 % 16384 % 3);
	assert_int_equal(keys_shard("Event1:1", 3), 2);
	assert_int_equal(keys_shard("Event1:2", 3), 0);
	assert_int_equal(keys_shard("Event2:3", 3), 2);
	assert_int_equal(keys_shard("Event3:4", 3), 0);
	for (n = 2; n <= 5; n++) {
		memset(seen, 0, sizeof(seen));
		for (z = 1; z <= 100; z++) {
			keys_tag("Event1", z, tag, sizeof(tag));
			s = keys_shard(tag, n);
			assert_true(s < n);
			assert_int_equal(s, keys_shard(tag, n));	/* stable */
			seen[s]++;
		}
		/* 100 zones spread over every shard */
		for (s = 0; s < n; s++)
			assert_true(seen[s] > 0);
	}
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
		cmocka_unit_test(test_ticket_key),
		cmocka_unit_test(test_crc16),
		cmocka_unit_test(test_shard),
		cmocka_unit_test(test_seat_bit),
	};

	return cmocka_run_group_tests_name("keys", tests, NULL, NULL);
}
