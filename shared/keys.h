/* SPDX-License-Identifier: ISC */
/*
 * keys.h - Redis key names and slots.  Pure functions.
 *
 * Every key of one event+zone carries the hash tag "{eventId:zoneId}", so a
 * zone lives on one Redis Cluster slot:
 *
 *   bo:zone:{E:Z}   hash   venue, rows, cols, price      (catalog)
 *   bo:left:{E:Z}   hash   z = seats left in the zone, r<N> = left in row N
 *   bo:seat:{E:Z}   string bitmap, bit (row-1)*cols + (col-1) = taken
 *   bo:own:{E:Z}    hash   bit index -> ticketId (owner token)
 *   bo:pend:{E:Z}   zset   orders not yet confirmed by the broker (orderId;
 *                          a cancellation, or an entry of the old shape:
 *                          the message itself; lua/lib/pending.lua)
 *   bo:sweep:{E:Z}  zset   pending entries claimed by the sweeper
 *   bo:ords:{E:Z}   hash   orderId -> order message; c:<ticketId>, x:<orderId>
 *                          -> cancelledOn (lua/order.lua, lua/cancel.lua)
 *   bo:holds:{E:Z}  hash   holdId -> "A <expires ms> <r c ...>" | "C <orderId>"
 *                          | "X" (expired) | "D" (deleted)
 *   bo:hexp:{E:Z}   zset   active holdIds scored by expiry (Redis clock)
 *   bo:hend:{E:Z}   zset   ended holds' bo:holds fields scored by when the
 *                          sweeper removes them: once their index bo:hix
 *                          is gone (lua/lib/hold_end.lua, Redis clock)
 *   bo:idem:{E:Z}:<key>    string "<hash> P|H|F ..." of an Idempotency-Key (24 h)
 *   bo:idem:{E:Z}:#<HMAC of the key>  the same record of a sale ("P"), as
 *                          `ticketctl rebuild` puts it back from MySQL,
 *                          which keeps only the key's HMAC under
 *                          token_secret (fcgi/ticket/token.h)
 *   bo:zones               set of "E:Z" tags loaded (ticketctl init)
 *
 * Keys by id alone (a lookup knows only the id) carry the slot tag "{st}"
 * of the zone's slot: st = keys_slot_tag(slot of "E:Z"), the first string
 * of [0-9a-z]{1,4} (by length, then alphabet order) whose CRC16 falls in
 * that slot, so they share the zone's Redis Cluster slot and a script may
 * touch them.  Every id made since round 2 carries that slot in its last
 * 14 bits (keys_id_stamp()), so the key is found from the id alone:
 *
 *   bo:tkt:{st}<ticketId>  ticket JSON cache (TTL)
 *   bo:ord:{st}<orderId>   order JSON cache (TTL)
 *   bo:oix:{st}<id>        "E:Z orderId" of an order or ticket id (cancel)
 *   bo:hix:{st}<holdId>    "E:Z" of a hold
 *   bo:hix:{st}#<SHA-256 of the holdId>  "E:Z" of a confirmed hold, as
 *                          `ticketctl rebuild` puts it back from MySQL
 *                          (which keeps only the id's hash), with its
 *                          bo:holds:{E:Z} field "#<SHA-256>" -> "C <orderId>"
 *
 * An id made before (round 1, or the first orders build) has no slot: its
 * keys were untagged (bo:tkt:<id>, bo:oix:<id>, ...).  Lookups try the
 * tagged key of the id's last bits first, then the untagged one
 * (docs/reliability.md, "Keys and ids").
 */
#ifndef BOX_KEYS_H
#define BOX_KEYS_H

#include <stddef.h>

#define KEY_MAX		192
#define TAG_MAX		(64 + 1 + 10 + 1)

enum key_kind {
	KEY_ZONE,
	KEY_LEFT,
	KEY_SEAT,
	KEY_OWN,
	KEY_PEND,
	KEY_SWEEP,
	KEY_ORDS,
	KEY_HOLDS,
	KEY_HEXP,
	KEY_HEND,
	KEY__MAX
};

#define KEY_ZONES	"bo:zones"

/* Writes "E:Z" into tag; returns its length or -1. */
int	keys_tag(const char *event, long zone, char *tag, size_t size);
/* Writes the key of kind for the tag "E:Z"; returns its length or -1. */
int	keys_build(enum key_kind kind, const char *tag, char *buf, size_t size);
/* Writes bo:idem:{E:Z}:<key>, the record of an Idempotency-Key of the
 * zone tag "E:Z" (key "": a request without one); returns its length or
 * -1. */
int	keys_idem(const char *tag, const char *key, char *buf, size_t size);
/* Writes bo:idem:{E:Z}:#<key_hash>, the name a sale's record is put back
 * under from the HMAC (hex) of its key (lua/order.lua reads it before
 * the record under the key; '#' is not a key's character);
 * returns its length or -1. */
int	keys_idem_hashed(const char *tag, const char *key_hash, char *buf,
	    size_t size);
/* CRC16 (XMODEM, as Redis Cluster) of the tag. */
unsigned keys_crc16(const char *s, size_t len);
/* The Redis Cluster slot of the tag "E:Z": crc16(tag) % 16384. */
unsigned keys_slot(const char *tag);

#define KEYS_SLOT_TAG_MAX	5	/* "zzzz" + NUL */
/* The slot tag of slot (0..16383): the first string of [0-9a-z]{1,4}
 * whose CRC16 % 16384 is slot (a table built on the first call). */
const char *keys_slot_tag(unsigned slot);
/* The slot an id carries, the low 14 bits of: a UUID's (36 chars) last 4
 * hex digits; a holdId's (25 chars of base64url: 128 random bits, then
 * these) last 3 characters; a 22-char token's characters 18..20 (holdIds
 * made before 2026-12-05, which gave 14 of their 128 bits to the slot);
 * -1 for any other length. */
int	keys_id_slot(const char *id);
/* Writes slot into those bits of id (in place); the other bits stay as
 * they are.  Returns 0 or -1 (not such an id). */
int	keys_id_stamp(char *id, unsigned slot);
/* Writes "<prefix>{<keys_slot_tag(slot)>}<id>" (prefix "bo:tkt:" ...);
 * returns its length or -1. */
int	keys_id(const char *prefix, unsigned slot, const char *id, char *buf,
	    size_t size);
/* keys_id() with the slot the id carries (keys_id_slot()); -1 if none. */
int	keys_of_id(const char *prefix, const char *id, char *buf, size_t size);
/* Writes the untagged key "<prefix><id>" of an id made before the slot was
 * in it; returns its length or -1. */
int	keys_legacy(const char *prefix, const char *id, char *buf, size_t size);

#define KEY_TKT		"bo:tkt:"
#define KEY_ORD		"bo:ord:"
#define KEY_OIX		"bo:oix:"
#define KEY_HIX		"bo:hix:"
/* The seat's bit index in the zone bitmap. */
long	keys_seat_bit(long row, long col, long cols);

#endif
