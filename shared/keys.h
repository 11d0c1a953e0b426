/* SPDX-License-Identifier: ISC */
/*
 * keys.h - Redis key names and shard choice.  Pure functions.
 *
 * Every key of one event+zone carries the hash tag "{eventId:zoneId}", so a
 * zone lives on one Redis Cluster slot or one of our shards:
 *
 *   bo:zone:{E:Z}   hash   venue, rows, cols, price      (catalog)
 *   bo:left:{E:Z}   hash   z = seats left in the zone, r<N> = left in row N
 *   bo:seat:{E:Z}   string bitmap, bit (row-1)*cols + (col-1) = taken
 *   bo:own:{E:Z}    hash   bit index -> ticketId (owner token)
 *   bo:pend:{E:Z}   zset   ticket JSON not yet confirmed by the broker
 *   bo:sweep:{E:Z}  zset   pending tickets claimed by the sweeper
 *   bo:ords:{E:Z}   hash   orderId -> order message; c:<ticketId>, x:<orderId>
 *                          -> cancelledOn (lua/order.lua, lua/cancel.lua)
 *   bo:ord:<orderId>       order JSON cache (TTL), on the zone's node
 *   bo:holds:{E:Z}  hash   holdId -> "A <expires ms> <r c ...>" | "C <orderId>"
 *                          | "X" (expired) | "D" (deleted)
 *   bo:hexp:{E:Z}   zset   active holdIds scored by expiry (Redis clock)
 *   bo:hix:<holdId>        "E:Z" of a hold, on the zone's node
 *   bo:idem:{E:Z}:<key>    string "<hash> P|F ..." of an Idempotency-Key (24 h)
 *   bo:oix:<id>            "E:Z orderId" of an order or ticket id, on the
 *                          zone's node (where a cancel finds the zone)
 *   bo:tkt:<ticketId>      ticket JSON cache (TTL), written on the zone's node
 *   bo:zones               set of "E:Z" tags held by this node
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
	KEY__MAX
};

#define KEY_ZONES	"bo:zones"

/* Writes "E:Z" into tag; returns its length or -1. */
int	keys_tag(const char *event, long zone, char *tag, size_t size);
/* Writes the key of kind for the tag "E:Z"; returns its length or -1. */
int	keys_build(enum key_kind kind, const char *tag, char *buf, size_t size);
/* Writes "bo:tkt:<id>"; returns its length or -1. */
int	keys_ticket(const char *ticket_id, char *buf, size_t size);
/* CRC16 (XMODEM, as Redis Cluster) of the tag. */
unsigned keys_crc16(const char *s, size_t len);
/* The shard, 0..nshards-1, that holds the tag: crc16(tag) % 16384 % n. */
unsigned keys_shard(const char *tag, unsigned nshards);
/* The seat's bit index in the zone bitmap. */
long	keys_seat_bit(long row, long col, long cols);

#endif
