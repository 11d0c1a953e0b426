/* SPDX-License-Identifier: ISC */
/*
 * sweeper.c - republishes tickets whose publish outcome was unknown (see
 * sweeper.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hiredis/hiredis.h>

#include "clock.h"
#include "fmt.h"
#include "keys.h"
#include "log.h"
#include "mq.h"
#include "pipe.h"
#include "rds.h"
#include "sweeper.h"
#include "ticket.h"

/* Masters noted in a round, by address. */
struct masters {
	char	where[SWEEP_DOWN_MAX][RCL_HOST_MAX + 8];
	int	n;
};

/* The state of one round. */
struct round {
	struct sweeper	*sw;
	struct rds	*rds;
	struct mq	*mq;
	long long	 now;
	unsigned long	 published;
	unsigned long	 expired;	/* holds released */
	int		 broker_failed;	/* publish no more this round */
	char		 err[256];	/* first failure, if any */
	/* masters that did not answer this round: their other zones wait
	 * for the next one (each call would cost redis_timeout_ms or
	 * redis_retry_ms, and the holds of every other master expire late) */
	struct masters	 down;
	/* masters whose replicas fell short of a WAIT this round: their
	 * other zones claim nothing until the next (each WAIT would wait
	 * redis_wait_timeout_ms, and the holds of every other master expire
	 * late); their holds still end */
	struct masters	 behind;
	redisReply	**zones;	/* the last bo:zones read (kept across
					   rounds: its master may be the one
					   that does not answer) */
};

/* 1 if the master of slot is in m. */
static int
masters_have(const struct round *r, const struct masters *m, unsigned slot)
{
	char	where[RCL_HOST_MAX + 8];
	int	i;

	rds_where(r->rds, slot, where, sizeof(where));
	for (i = 0; i < m->n; i++)
		if (strcmp(m->where[i], where) == 0)
			return 1;
	return 0;
}

/* Notes the master of slot in m for the rest of the round. */
static void
masters_add(struct round *r, struct masters *m, unsigned slot)
{
	if (m->n < SWEEP_DOWN_MAX && !masters_have(r, m, slot))
		rds_where(r->rds, slot, m->where[m->n++],
		    sizeof(m->where[0]));
}

/* 1 if the master of slot did not answer earlier in the round. */
static int
master_down(const struct round *r, unsigned slot)
{
	return masters_have(r, &r->down, slot);
}

/* After a call on slot failed: notes its master as not answering for the
 * rest of the round, unless it answered (a script's error, a slot being
 * moved between masters: the master's other zones are served). */
static void
master_failed(struct round *r, unsigned slot)
{
	if (r->rds->err == ERR_IO)
		masters_add(r, &r->down, slot);
}

static void
round_fail(struct round *r, const char *what, const char *why)
{
	if (r->err[0] == '\0')
		fmt_trunc(r->err, sizeof(r->err), "%s: %s", what, why);
}

/* The routing key and message id of a pending entry: an order message
 * (lua/order.lua: its orderId), a cancellation (lua/cancel.lua: routing
 * key ticket.cancelled, its orderId), or a round-1 ticket (its ticketId).
 * A broken entry still goes out as "sweeper" and the pipelines
 * dead-letter it. */
static const char *
entry_route(const char *body, size_t len, char id[UUID_LEN + 1])
{
	static const char order[] = "{\"type\":\"order\",\"orderId\":\"";
	static const char cancel[] = "{\"type\":\"cancel\",\"orderId\":\"";
	struct ticket	 t;
	const char	*key = MQ_ROUTING_KEY;
	size_t		 skip = 0;

	memcpy(id, "sweeper", sizeof("sweeper"));
	if (len > sizeof(order) - 1 + UUID_LEN &&
	    memcmp(body, order, sizeof(order) - 1) == 0)
		skip = sizeof(order) - 1;
	else if (len > sizeof(cancel) - 1 + UUID_LEN &&
	    memcmp(body, cancel, sizeof(cancel) - 1) == 0) {
		skip = sizeof(cancel) - 1;
		key = MQ_CANCEL_KEY;
	}
	if (skip > 0) {
		memcpy(id, body + skip, UUID_LEN);
		id[UUID_LEN] = '\0';
		if (!valid_uuid(id))
			memcpy(id, "sweeper", sizeof("sweeper"));
	} else if (ticket_parse(body, len, &t) == TICKET_OK)
		memcpy(id, t.id, UUID_LEN + 1);
	return key;
}

/* Publishes one claimed entry (member, and its message: "" when the
 * member is the message, lua/claim.lua) and drops it from bo:sweep once
 * confirmed.  Returns 0, -1 if the broker failed (the round publishes no
 * more), or 1 if the master did not take the ZREM (the zone's other
 * entries wait for the next round: if it is gone, each would wait out
 * redis_timeout_ms). */
static int
republish(struct round *r, unsigned node, const char *sweep,
    const redisReply *member, const redisReply *msg)
{
	char		 id[UUID_LEN + 1];
	const char	*key, *argv[3], *body = member->str;
	size_t		 lens[3], len = member->len;
	redisReply	*rep;
	enum mq_result	 res;

	if (msg->len > 0) {
		body = msg->str;
		len = msg->len;
	} else if (member->len == 0 || member->str[0] != '{') {
		/* an orderId without its message in bo:ords: nothing to
		 * publish; kept, for ticketctl check to show */
		round_fail(r, "claim", "a pending order without its message "
		    "in bo:ords, kept");
		return 0;
	}
	key = entry_route(body, len, id);
	res = mq_publish_key(r->mq, key, body, len, id,
	    r->sw->c->amqp_confirm_timeout_ms);
	if (res != MQ_OK) {
		round_fail(r, "publish", r->mq->errstr);
		return -1;
	}
	r->published++;
	argv[0] = "ZREM";
	argv[1] = sweep;
	argv[2] = member->str;
	lens[0] = 4;
	lens[1] = strlen(sweep);
	lens[2] = member->len;
	if ((rep = rds_argv(r->rds, node, 3, argv, lens)) == NULL) {
		/* published but kept: the next round publishes it again */
		round_fail(r, "ZREM", r->rds->errstr);
		master_failed(r, node);
		return 1;
	}
	freeReplyObject(rep);
	return 0;
}

/* Releases the seats of the zone's holds past their expiry
 * (lua/hold_expire.lua, on the Redis clock).  Each round of the holds'
 * thread, so a hold ends within sweeper_interval_ms of its expiresAt,
 * whatever the publishing thread waits for.  The same call removes the
 * records of holds ended over a day ago, whose index is gone
 * (lua/lib/hold_end.lua).  Returns 0. */
static int
expire_holds(struct round *r, unsigned node, const char *tag)
{
	char		 k[7][KEY_MAX], max[16];
	static const enum key_kind kinds[7] = { KEY_ZONE, KEY_LEFT, KEY_SEAT,
	    KEY_OWN, KEY_HOLDS, KEY_HEXP, KEY_HEND };
	const char	*argv[9];
	redisReply	*rep;
	int		 i;

	if (master_down(r, node))
		return 0;

	for (i = 0; i < 7; i++) {
		if (keys_build(kinds[i], tag, k[i], sizeof(k[i])) < 0)
			return 0;	/* not a tag of ours */
		argv[i] = k[i];
	}
	snprintf(max, sizeof(max), "%d", SWEEP_CLAIM_MAX);
	argv[7] = "";
	argv[8] = max;
	if ((rep = rds_eval(r->rds, node, SCRIPT_HOLD_EXPIRE, 7, 9, argv)) ==
	    NULL) {
		round_fail(r, "hold_expire", r->rds->errstr);
		master_failed(r, node);
		return 0;
	}
	if (rep->type == REDIS_REPLY_INTEGER)
		r->expired += (unsigned long)rep->integer;
	freeReplyObject(rep);
	return 0;
}

/*
 * Whether redis_wait_replicas replicas of the zone's master have what
 * claim.lua returned (it wrote, so a WAIT covers it), as the responder asks
 * before it publishes a sale (docs/reliability.md, "Redis Cluster"): an
 * entry is the sweeper's because its responder never asked (killed after
 * the reservation, or the reservation's answer lost), and a sale a
 * failover could lose must not be published: the promoted replica would
 * sell its seats again beside the stored tickets.  Short, the entries stay
 * claimed for the next round.  1 also when no WAIT is asked
 * (redis_wait_replicas 0, or redis_wait_short = publish).
 */
static int
replicated(struct round *r, unsigned node, const char *tag)
{
	char	why[256];
	int	n;

	if (!r->rds->wait_release || r->rds->wait_replicas <= 0 ||
	    (n = rds_wait(r->rds, node, r->rds->wait_replicas,
	    r->rds->wait_timeout_ms)) >= r->rds->wait_replicas)
		return 1;
	fmt_trunc(why, sizeof(why), "%s: %d of %d replicas have its pending "
	    "entries%s%s; kept for the next round", tag, n < 0 ? 0 : n,
	    r->rds->wait_replicas, n < 0 ? ": " : "", n < 0 ?
	    r->rds->errstr : "");
	round_fail(r, "WAIT", why);
	masters_add(r, &r->behind, node);
	return 0;
}

/* Claims and publishes the zone's stale entries, unless the broker failed
 * earlier in the round.  Returns 0, or -1 if the broker failed (the round
 * publishes no more). */
static int
sweep_zone(struct round *r, unsigned node, const char *tag)
{
	char		 pend[KEY_MAX], sweep[KEY_MAX], ords[KEY_MAX];
	char		 cutoff[24], now[24], max[16];
	const char	*argv[6];
	redisReply	*rep;
	size_t		 i;
	int		 ret = 0;

	if (keys_build(KEY_PEND, tag, pend, sizeof(pend)) < 0 ||
	    keys_build(KEY_SWEEP, tag, sweep, sizeof(sweep)) < 0 ||
	    keys_build(KEY_ORDS, tag, ords, sizeof(ords)) < 0)
		return 0;	/* not a tag of ours */
	if (r->broker_failed || master_down(r, node) ||
	    masters_have(r, &r->behind, node))
		return 0;
	snprintf(cutoff, sizeof(cutoff), "%lld",
	    r->now - r->sw->c->sweeper_stale_ms);
	snprintf(now, sizeof(now), "%lld", r->now);
	snprintf(max, sizeof(max), "%d", SWEEP_CLAIM_MAX);
	argv[0] = pend;
	argv[1] = sweep;
	argv[2] = ords;
	argv[3] = cutoff;
	argv[4] = now;
	argv[5] = max;
	if ((rep = rds_eval(r->rds, node, SCRIPT_CLAIM, 3, 6, argv)) == NULL) {
		round_fail(r, "claim", r->rds->errstr);
		master_failed(r, node);
		return 0;
	}
	if (rep->type == REDIS_REPLY_ARRAY && rep->elements > 0 &&
	    !replicated(r, node, tag)) {
		freeReplyObject(rep);
		return 0;
	}
	if (rep->type == REDIS_REPLY_ARRAY)
		for (i = 0; i + 1 < rep->elements && ret == 0 &&
		    !atomic_load(r->sw->stop); i += 2)
			if (rep->element[i]->type == REDIS_REPLY_STRING &&
			    rep->element[i + 1]->type == REDIS_REPLY_STRING)
				ret = republish(r, node, sweep,
				    rep->element[i], rep->element[i + 1]);
	freeReplyObject(rep);
	return ret < 0 ? -1 : 0;
}

/* One round of zone() over every zone of bo:zones (as last read, if its
 * master does not answer now), each on its slot. */
static void
sweep_round(struct round *r, int (*zone)(struct round *, unsigned,
    const char *))
{
	redisReply	*tags;
	char		 tag[TAG_MAX];
	size_t		 i;

	r->now = wall_ms();
	if ((tags = rds_cmd(r->rds, rcl_slot(KEY_ZONES, strlen(KEY_ZONES)),
	    "SMEMBERS %s", KEY_ZONES)) == NULL) {
		round_fail(r, "SMEMBERS", r->rds->errstr);
		master_failed(r, rcl_slot(KEY_ZONES, strlen(KEY_ZONES)));
		if ((tags = *r->zones) == NULL)
			return;
	} else if (tags->type == REDIS_REPLY_ARRAY) {
		if (*r->zones != NULL)
			freeReplyObject(*r->zones);
		*r->zones = tags;
	}
	for (i = 0; tags->type == REDIS_REPLY_ARRAY && i < tags->elements &&
	    !atomic_load(r->sw->stop); i++) {
		redisReply *e = tags->element[i];

		if (e->type != REDIS_REPLY_STRING || e->len >= sizeof(tag))
			continue;
		memcpy(tag, e->str, e->len);
		tag[e->len] = '\0';
		if (zone(r, keys_slot(tag), tag) != 0)
			r->broker_failed = 1;
	}
	if (tags != *r->zones)
		freeReplyObject(tags);
}

/* The loop of either thread: rounds of zone() every sweeper_interval_ms
 * until *stop, with its own Redis connection (and AMQP connection, mq
 * non-NULL), logging what each round did and when it fails or works
 * again. */
static void
run(struct sweeper *sw, const char *who, struct mq *mq,
    int (*zone)(struct round *, unsigned, const char *))
{
	struct rds	 rds;
	struct round	 r;
	redisReply	*zones = NULL;
	int		 failing = 0;

	if (rds_init_conf(&rds, sw->c) != 0) {
		log_error("%s: %s", who, rds.errstr);
		return;
	}
	while (!pipe_sleep(sw->c->sweeper_interval_ms, sw->stop)) {
		memset(&r, 0, sizeof(r));
		r.sw = sw;
		r.rds = &rds;
		r.mq = mq;
		r.zones = &zones;
		sweep_round(&r, zone);
		if (r.expired > 0)
			log_info("%s: released %lu expired hold(s)", who,
			    r.expired);
		if (r.published > 0) {
			atomic_fetch_add(&sw->published, r.published);
			log_info("%s: republished %lu unconfirmed ticket(s)",
			    who, r.published);
		}
		if (r.err[0] != '\0' && !failing)
			log_warnx("%s: %s; trying again every round", who,
			    r.err);
		else if (r.err[0] == '\0' && failing)
			log_info("%s: works again", who);
		failing = r.err[0] != '\0';
	}
	if (zones != NULL)
		freeReplyObject(zones);
	rds_close(&rds);
}

void *
sweeper_run(void *arg)
{
	struct sweeper	*sw = arg;
	struct mq	 mq;

	(void)mq_init_conf(&mq, sw->c, "consumer sweeper");
	log_info("sweeper: every %d ms, publishing reservations unconfirmed "
	    "for %d ms", sw->c->sweeper_interval_ms, sw->c->sweeper_stale_ms);
	run(sw, "sweeper", &mq, sweep_zone);
	mq_close(&mq);
	return NULL;
}

void *
sweeper_holds_run(void *arg)
{
	struct sweeper	*sw = arg;

	log_info("sweeper (holds): every %d ms, releasing expired holds",
	    sw->c->sweeper_interval_ms);
	run(sw, "sweeper (holds)", NULL, expire_holds);
	return NULL;
}
