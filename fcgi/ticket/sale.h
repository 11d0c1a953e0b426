/* SPDX-License-Identifier: ISC */
/*
 * sale.h - the Redis side of an order (lua/order.lua, order_release.lua,
 * cancel.lua): one script call on the zone's node each.
 */
#ifndef BOX_SALE_H
#define BOX_SALE_H

#include <sys/uio.h>

#include "keys.h"
#include "purchase.h"
#include "rds.h"
#include "ticket.h"
#include "token.h"

#define SALE_TAKEN_MAX	(ORDER_SEATS_MAX * 24)

/* One order being sold. */
struct sale {
	char		 tag[TAG_MAX];
	unsigned	 node;		/* the zone's slot (keys_slot(), rds.h) */
	char		 order_id[UUID_LEN + 1];
	char		 token[TOKEN_LEN + 1];
	char		 hash[TOKEN_HASH_LEN + 1];
	char		 created[STAMP_LEN + 1];
	long long	 created_ms;
	int		 n;
	char		 tids[ORDER_SEATS_MAX][UUID_LEN + 1];
	char		*head;		/* the order JSON's fields before "tickets" */
	char		*tickets;	/* "\"tickets\":[...]" */
	char		*msg;		/* the order message (bo:ords) */
	char		 taken[SALE_TAKEN_MAX];	/* SEAT_TAKEN: "r c r c ..." */
	/* Idempotency-Key: its Redis key ("bo:idem:{E:Z}:" if none), the
	 * name a rebuild puts a sale's record back under (keys_idem_hashed:
	 * "bo:idem:{E:Z}:#<token_key_hash of the key>", "...:#" if none), the
	 * request's hash ("" if none), its kind ('t' ticket, 'o' order,
	 * 'h' hold, 'c' confirm) */
	char		 idem[KEY_MAX];
	char		 idem_hashed[KEY_MAX];
	char		 ihash[TOKEN_HASH_LEN + 1];
	char		 kind;
	/* a keyed replay: the order message and kind of the first sale, or
	 * "<holdId> <expires ms> <total> <r c ...>" and 'h' of the first
	 * hold (SALE_REPLAY), or "<code> <taken>" of its refusal
	 * (SALE_REFUSED) */
	char		*replay;
	char		 replay_kind;
	/* SALE_IN_PROGRESS: the order still running and, for a keyed POST
	 * /tickets, its ticket ("" when Redis did not name them) */
	char		 running_order[UUID_LEN + 1];
	char		 running_ticket[UUID_LEN + 1];
	/* holds: the hold's id and seconds; after a hold or a confirm, its
	 * expiry (ms); after a hold, its total and seats ("r c r c ...") */
	char		 hold_id[HOLD_ID_LEN + 1];
	char		 hold_hash[TOKEN_HASH_LEN + 1];	/* a confirm's: the
					   SHA-256 of hold_id, else "" */
	long		 hold_secs;
	long long	 expires_ms;
	char		 total[PRICE_MAX + 8];
	char		 held[SALE_TAKEN_MAX];
};

/* Outcomes of sale_order(): the codes of lua/order.lua (0-11, 20-25), then
 * those of this side (SALE_ERROR, SALE_IN_DOUBT). */
enum sale_result {
	SALE_OK = 0,
	SALE_SEAT_TAKEN = 1,	/* s->taken lists the seats */
	SALE_ZONE_SOLD_OUT = 2,
	SALE_ROW_SOLD_OUT = 3,
	SALE_NOT_FOUND = 4,
	SALE_INVALID_SEAT = 5,
	SALE_NO_COUNTERS = 6,	/* zone fenced until rebuilt: nothing sold */
	SALE_CANCELLED = 7,	/* the event is cancelled */
	SALE_NOT_ON_SALE = 8,	/* before the zone's opensAt: r->opens_ms */
	SALE_CLOSED = 9,	/* after the event's closesAt */
	SALE_BAD_CATALOG = 10,	/* the zone's catalog hash is unusable:
				   nothing written, nothing sold */
	SALE_NOT_ADJACENT = 11,	/* no row has the block */
	SALE_KEY_REUSED = 20,	/* 422: same key, another request */
	SALE_IN_PROGRESS = 21,	/* 409: same key, still running */
	SALE_REPLAY = 22,	/* the key sold: replay, s->replay */
	SALE_REFUSED = 23,	/* the key was refused: s->replay */
	SALE_HOLD_EXPIRED = 25,	/* confirm after the hold's expiry */
	SALE_ERROR,		/* Redis failed before the script ran:
				   nothing sold; errstr says why */
	SALE_IN_DOUBT,		/* the script was sent, its answer never
				   came (timeout, connection lost) or cannot
				   be read: seats may be reserved */
	SALE__MAX
};

/* Outcomes of sale_release(). */
enum sale_release {
	RELEASE_DONE,		/* the seats are free again (a confirm's:
				   held again by its hold) */
	RELEASE_KEPT,		/* no longer pending (published meanwhile) */
	RELEASE_ERROR		/* Redis failed, errstr says why */
};

/* Outcomes of sale_find_hold() (and of the order look-up of cancels). */
enum sale_lookup {
	LOOKUP_FOUND,
	LOOKUP_UNKNOWN,
	LOOKUP_ERROR		/* Redis failed, errstr says why */
};

/* Outcomes of sale_end_hold() (lua/hold_expire.lua). */
enum sale_end_hold {
	END_HOLD_DELETED,	/* released */
	END_HOLD_EXPIRED,	/* it had expired (released by the sweeper) */
	END_HOLD_ENDED,		/* deleted before (its end written again,
				   for the caller's WAIT) */
	END_HOLD_UNKNOWN,	/* no such hold, or confirmed: an order now */
	END_HOLD_CONFIRMING,	/* its confirm's message not confirmed yet
				   (the order's id into order_id) */
	END_HOLD_FENCED,	/* active in a zone without counters: not
				   ended before ticketctl rebuild */
	END_HOLD_ERROR		/* Redis failed, errstr says why */
};

/* The names of the values above ("SEAT_TAKEN", "KEPT"...), for logs and
 * tests; "?" for a value out of range. */
const char *sale_result_str(enum sale_result r);
const char *sale_release_str(enum sale_release r);
const char *sale_lookup_str(enum sale_lookup r);
const char *sale_end_hold_str(enum sale_end_hold r);

/* The responder's secrets: token, from which the cancel token of a keyed
 * request or a confirm is derived (token_secret, or one the process drew
 * when it is not set), and key, under which an Idempotency-Key's HMAC is
 * made (token_key_hash: token_secret as set, "" if not, so that every
 * process makes the same). */
struct sale_secrets {
	const char	*token;
	const char	*key;
};

/* Fills ids, token, hash and stamps of s for the request o; with an
 * Idempotency-Key (key not NULL) the key, its HMAC, the SHA-256 of kind
 * and the parts what[0..nwhat-1] of the request (its body; for the legacy
 * form the query too) and the token derived from sec->token.  Returns 0
 * or -1 (no randomness, no hash, key too long). */
int	sale_new(struct sale *s, const struct order_req *o, char kind,
	    const char *key, const struct iovec *what, int nwhat,
	    const struct sale_secrets *sec);
/* Finds the zone tag (TAG_MAX) and node of a hold: its index by id, else
 * the index by the id's SHA-256 that `ticketctl rebuild` puts back for a
 * confirmed hold after a Redis loss. */
enum sale_lookup sale_find_hold(struct rds *r, const char *hold_id,
	    unsigned *node, char *tag);
/* DELETE of a hold (lua/hold_expire.lua); on END_HOLD_CONFIRMING the
 * order it is being confirmed into goes to order_id ("" if Redis did not
 * name one). */
enum sale_end_hold sale_end_hold(struct rds *r, unsigned node,
	    const char *tag, const char *hold_id, char order_id[UUID_LEN + 1]);

/* After SALE_REPLAY: fills head, tickets, order_id, tids[0], kind and the
 * token (from secret) from the replayed order message.  Returns 0 or -1. */
int	sale_from_replay(struct sale *s, const char *secret);
/* After SALE_REPLAY of a hold (replay_kind 'h'): fills hold_id,
 * expires_ms, total and held from the replayed record.  Returns 0 or -1. */
int	sale_hold_from_replay(struct sale *s);
/* Runs lua/order.lua.  On SALE_OK head, tickets and msg are set (freed by
 * sale_free()), for a hold (kind 'h') expires_ms, total and held. */
enum sale_result sale_order(struct rds *r, struct sale *s,
	    const struct order_req *o, int cache_ttl);
/* After the broker's confirm: drops the pending entry of the zone tag (an
 * order's orderId, a cancellation's message).  Returns 0 or -1 (harmless:
 * the sweeper republishes, consumers dedupe). */
int	sale_confirmed(struct rds *r, unsigned node, const char *tag,
	    const char *member);
/* Compare-and-release of the order (lua/order_release.lua). */
enum sale_release sale_release(struct rds *r, const struct sale *s);
void	sale_free(struct sale *s);

enum sale_cancel {
	CANCEL_OK,
	CANCEL_NOT_FOUND,
	CANCEL_FORBIDDEN,
	CANCEL_NOT_CONFIRMED,
	CANCEL_KEY_REUSED,	/* the Idempotency-Key was another request's */
	CANCEL_ERROR		/* errstr says why; may have been applied */
};

/* A cancellation: POST /orders/{id}/cancel, POST /tickets/{id}/cancel. */
struct cancel_req {
	const char	*id;		/* orderId or ticketId */
	int		 is_ticket;
	const char	*token;		/* the body's cancelToken */
	const char	*key;		/* Idempotency-Key, "" if none */
	struct iovec	 body;		/* the body bytes (the key's request) */
	const char	*key_secret;	/* struct sale_secrets' key */
};

/* What sale_cancel() found: on CANCEL_OK answer (the 200 body) and msg
 * (the cancel message, left pending) are malloc'd; node and tag say
 * where; replayed: the key's first request cancelled, or was refused as
 * now (CANCEL_NOT_FOUND, CANCEL_FORBIDDEN). */
struct cancel_res {
	char		*answer;
	char		*msg;
	unsigned	 node;
	char		 tag[TAG_MAX];
	int		 replayed;
};

/* The cancellation of an order or of one of its tickets (lua/cancel.lua),
 * after finding the zone of the id (an order or ticket id) through
 * bo:oix.  A key lives beside the zone's seats, as a sale's does. */
enum sale_cancel sale_cancel(struct rds *r, const struct cancel_req *c,
	    int cache_ttl, struct cancel_res *out);

#endif
