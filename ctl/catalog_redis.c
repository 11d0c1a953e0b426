/* SPDX-License-Identifier: ISC */
/*
 * catalog_redis.c - one event zone of the catalog in Redis, and the tickets
 * in flight that apply must count as sold (see catalog.h).
 */
#include <stdio.h>
#include <string.h>

#include "catalog.h"
#include "keys.h"
#include "zone.h"

struct zkeys {
	char	tag[TAG_MAX];
	char	k[KEY__MAX][KEY_MAX];
	const char *argv[6];	/* the KEYS of load_zone.lua/drop_zone.lua */
};

static int
zkeys(struct zkeys *z, const char *event, long zone)
{
	int kind;

	if (keys_tag(event, zone, z->tag, sizeof(z->tag)) < 0)
		return -1;
	for (kind = 0; kind < KEY__MAX; kind++)
		if (keys_build(kind, z->tag, z->k[kind], KEY_MAX) < 0)
			return -1;
	z->argv[0] = z->k[KEY_ZONE];
	z->argv[1] = z->k[KEY_LEFT];
	z->argv[2] = z->k[KEY_SEAT];
	z->argv[3] = z->k[KEY_OWN];
	z->argv[4] = z->k[KEY_PEND];
	z->argv[5] = z->k[KEY_SWEEP];
	return 0;
}

const char *
catz_str(enum catz r)
{
	switch (r) {
	case CATZ_ERROR:
		return "redis failed";
	case CATZ_SOLD:
		return "it sold";
	case CATZ_NO_COUNT:
		return "no counters";
	case CATZ_KEPT:
		return "kept";
	case CATZ_CREATED:
		return "created";
	}
	return "?";
}

/* Runs a zone script; returns its answer or CATZ_ERROR.  Then adds the
 * zone to bo:zones (the zones the sweeper visits) once loaded, or removes
 * it once dropped: outside the script, that set is in another slot. */
static enum catz
zone_script(struct ctl *ctl, const struct zkeys *z, enum rds_script s,
    int argc, const char **argv)
{
	redisReply	*rep;
	enum catz	 r;

	rep = rds_eval(&ctl->rds, keys_slot(z->tag), s, 6, argc, argv);
	if (rep == NULL)
		return CATZ_ERROR;
	if (rep->type != REDIS_REPLY_INTEGER || rep->integer < CATZ_SOLD ||
	    rep->integer > CATZ_CREATED) {
		snprintf(ctl->rds.errstr, sizeof(ctl->rds.errstr), "%s: "
		    "unexpected script reply", z->tag);
		freeReplyObject(rep);
		return CATZ_ERROR;
	}
	r = (enum catz)rep->integer;
	freeReplyObject(rep);
	if ((s == SCRIPT_LOAD_ZONE && (r == CATZ_KEPT || r == CATZ_CREATED)) ||
	    (s == SCRIPT_DROP_ZONE && r >= CATZ_KEPT)) {
		rep = rds_cmd(&ctl->rds, rcl_slot(KEY_ZONES,
		    strlen(KEY_ZONES)), s == SCRIPT_LOAD_ZONE ? "SADD %s %s" :
		    "SREM %s %s", KEY_ZONES, z->tag);
		if (rep == NULL)
			return CATZ_ERROR;
		freeReplyObject(rep);
	}
	return r;
}

enum catz
catalog_zone_load(struct ctl *ctl, const struct catalog_zone *cz,
    enum catz_create create)
{
	static const char *const may[] = { "0", "1", "2" };
	struct zkeys	 z;
	struct zone_sale sale;
	char		 rows[24], cols[24];
	const char	*argv[16];
	int		 i;

	if (zkeys(&z, cz->event, cz->zone) != 0) {
		snprintf(ctl->rds.errstr, sizeof(ctl->rds.errstr), "bad key");
		return CATZ_ERROR;
	}
	snprintf(rows, sizeof(rows), "%ld", cz->rows);
	snprintf(cols, sizeof(cols), "%ld", cz->cols);
	zone_sale_of(cz, &sale);
	for (i = 0; i < 6; i++)
		argv[i] = z.argv[i];
	argv[6] = cz->venue;
	argv[7] = rows;
	argv[8] = cols;
	argv[9] = cz->price;
	argv[10] = z.tag;
	argv[11] = may[create <= CATZ_CREATE_CHECKED ? create : 0];
	argv[12] = sale.status[0] != '\0' ? sale.status : "SCHEDULED";
	argv[13] = sale.opens;
	argv[14] = sale.closes;
	return zone_script(ctl, &z, SCRIPT_LOAD_ZONE, 15, argv);
}

int
catalog_zone_held(struct ctl *ctl, const char *event, long zone, char *out,
    size_t len)
{
	struct zkeys	 z;
	redisReply	*rep, *f[4];
	int		 k;

	if (zkeys(&z, event, zone) != 0) {
		snprintf(ctl->rds.errstr, sizeof(ctl->rds.errstr), "bad key");
		return -1;
	}
	rep = rds_cmd(&ctl->rds, keys_slot(z.tag), "HMGET %s venue rows cols "
	    "price", z.k[KEY_ZONE]);
	if (rep == NULL)
		return -1;
	if (rep->type != REDIS_REPLY_ARRAY || rep->elements != 4) {
		snprintf(ctl->rds.errstr, sizeof(ctl->rds.errstr), "%s: "
		    "unexpected reply", z.k[KEY_ZONE]);
		freeReplyObject(rep);
		return -1;
	}
	for (k = 0; k < 4; k++)
		f[k] = rep->element[k];
	if (f[0]->type != REDIS_REPLY_STRING)
		snprintf(out, len, "nothing");
	else
		snprintf(out, len, "%s %sx%s at %s", f[0]->str,
		    f[1]->type == REDIS_REPLY_STRING ? f[1]->str : "?",
		    f[2]->type == REDIS_REPLY_STRING ? f[2]->str : "?",
		    f[3]->type == REDIS_REPLY_STRING ? f[3]->str : "?");
	freeReplyObject(rep);
	return 0;
}

enum catz
catalog_zone_drop(struct ctl *ctl, const char *event, long zone)
{
	struct zkeys	 z;
	const char	*argv[8];
	int		 i;

	if (zkeys(&z, event, zone) != 0) {
		snprintf(ctl->rds.errstr, sizeof(ctl->rds.errstr), "bad key");
		return CATZ_ERROR;
	}
	for (i = 0; i < 6; i++)
		argv[i] = z.argv[i];
	argv[6] = z.tag;
	return zone_script(ctl, &z, SCRIPT_DROP_ZONE, 7, argv);
}

/* One integer command on the zone's node; -1 on failure. */
static long long
zone_int(struct ctl *ctl, const struct zkeys *z, const char *cmd,
    const char *key)
{
	redisReply	*rep;
	long long	 v;

	rep = rds_cmd(&ctl->rds, keys_slot(z->tag), "%s %s", cmd, key);
	if (rep == NULL)
		return -1;
	v = rep->type == REDIS_REPLY_INTEGER ? rep->integer : -1;
	freeReplyObject(rep);
	return v;
}

long
catalog_zone_taken(struct ctl *ctl, const char *event, long zone, int *fenced,
    int *seen)
{
	struct zkeys	z;
	long long	bits, pend, sweep, hash, left, intact;

	*fenced = *seen = 0;
	if (zkeys(&z, event, zone) != 0)
		return -1;
	if ((bits = zone_int(ctl, &z, "BITCOUNT", z.k[KEY_SEAT])) < 0 ||
	    (pend = zone_int(ctl, &z, "ZCARD", z.k[KEY_PEND])) < 0 ||
	    (sweep = zone_int(ctl, &z, "ZCARD", z.k[KEY_SWEEP])) < 0 ||
	    (hash = zone_int(ctl, &z, "EXISTS", z.k[KEY_ZONE])) < 0 ||
	    (left = zone_int(ctl, &z, "EXISTS", z.k[KEY_LEFT])) < 0)
		return -1;
	/* a Redis Cluster is never intact (cmd_init.c, read_intact); there
	 * the key is in a slot of its own, not the zone's */
	intact = 0;
	if (ctl->rds.mode == RDS_SINGLE &&
	    (intact = zone_int(ctl, &z, "EXISTS", CTL_KEY_INTACT)) < 0)
		return -1;
	*fenced = hash == 1 && left == 0;
	/* no catalog hash either: removed (drop_zone.lua, only while it
	 * showed no sale) or never loaded, and nothing sells without it */
	*seen = (left == 1 || hash == 0) && intact == 1;
	return (long)(bits + pend + sweep);
}

int
catalog_in_flight(struct ctl *ctl, struct inflight *f)
{
	struct mq	m;
	int		ret = 0;

	if (ctl_mq_open(ctl, &m, "ticketctl catalog") != 0)
		return -1;
	if (sold_inflight(f, &m) != 0) {
		ctl_err("%s", m.errstr);
		ret = -1;
	}
	mq_close(&m);
	return ret;
}
