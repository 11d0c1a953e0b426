/* SPDX-License-Identifier: ISC */
/*
 * route.c - the query responder's router (see route.h).
 */
#include <string.h>

#include "route.h"

/* A path split into decoded segments; bad[i] marks one that did not
 * decode (it matches no literal and fails every parameter check). */
struct segs {
	size_t	n;
	char	s[ROUTE_SEGS_MAX][ROUTE_SEG_MAX];
	int	bad[ROUTE_SEGS_MAX];
};

static const char *const route_names[ROUTE__MAX] = {
	"/get/venues",
	"/get/venues/{venueId}/events",
	"/get/events/{eventId}",
	"/get/events/{eventId}/zones/{zoneId}/seats",
	"/get/events/{eventId}/tickets",
	"/get/events/{eventId}/stats",
	"/get/tickets/{ticketId}",
	"/get/count/{eventId}",
	"/get/money/{venueId}/{eventId}",
	"/get/health",
	"/get/orders/{orderId}",
};

const char *
route_name(enum route_ep ep)
{
	return (unsigned)ep < ROUTE__MAX ? route_names[ep] : "?";
}

int
route_decode(const char *src, size_t len, char *dst, size_t size,
    int plus_space)
{
	return valid_pct_decode(src, len, dst, size, plus_space);
}

/* Splits the part of path after "/get/" into segments.  Returns 0, or -1
 * if the path does not start with /get/ or has too many segments. */
static int
split(const char *path, struct segs *sg)
{
	const char	*p, *slash;
	size_t		 len;

	if (strncmp(path, "/get/", 5) != 0)
		return -1;
	sg->n = 0;
	for (p = path + 5;; p = slash + 1) {
		if (sg->n == ROUTE_SEGS_MAX)
			return -1;
		slash = strchr(p, '/');
		len = slash != NULL ? (size_t)(slash - p) : strlen(p);
		sg->bad[sg->n] = route_decode(p, len, sg->s[sg->n],
		    ROUTE_SEG_MAX, 0) < 0;
		if (sg->bad[sg->n])
			sg->s[sg->n][0] = '\0';
		sg->n++;
		if (slash == NULL)
			return 0;
	}
}

/* Does segment i exist and equal the literal lit? */
static int
lit(const struct segs *sg, size_t i, const char *lit)
{
	return i < sg->n && !sg->bad[i] && strcmp(sg->s[i], lit) == 0;
}

/* The endpoint whose shape the segments have, or -1.  A parameter
 * segment matches anything here; it is checked later. */
static int
shape(const struct segs *sg)
{
	if (sg->n == 1 && lit(sg, 0, "venues"))
		return ROUTE_VENUES;
	if (sg->n == 3 && lit(sg, 0, "venues") && lit(sg, 2, "events"))
		return ROUTE_VENUE_EVENTS;
	if (sg->n == 2 && lit(sg, 0, "events"))
		return ROUTE_EVENT;
	if (sg->n == 5 && lit(sg, 0, "events") && lit(sg, 2, "zones") &&
	    lit(sg, 4, "seats"))
		return ROUTE_SEATS;
	if (sg->n == 3 && lit(sg, 0, "events") && lit(sg, 2, "tickets"))
		return ROUTE_TICKETS;
	if (sg->n == 3 && lit(sg, 0, "events") && lit(sg, 2, "stats"))
		return ROUTE_STATS;
	if (sg->n == 2 && lit(sg, 0, "tickets"))
		return ROUTE_TICKET;
	if (sg->n == 2 && lit(sg, 0, "count"))
		return ROUTE_COUNT;
	if (sg->n == 3 && lit(sg, 0, "money"))
		return ROUTE_MONEY;
	if (sg->n == 1 && lit(sg, 0, "health"))
		return ROUTE_HEALTH;
	if (sg->n == 2 && lit(sg, 0, "orders"))
		return ROUTE_ORDER;
	return -1;
}

/* Copies a venue/event id segment; returns 0 or -1 if malformed. */
static int
take_id(const struct segs *sg, size_t i, char dst[ID_MAX + 1])
{
	if (sg->bad[i] || !valid_id(sg->s[i]))
		return -1;
	memcpy(dst, sg->s[i], strlen(sg->s[i]) + 1);
	return 0;
}

/* Copies a UUID, lowercasing A-F; returns 0 or -1 if malformed. */
static int
take_uuid(const char *s, char dst[UUID_LEN + 1])
{
	char	 buf[UUID_LEN + 1];
	size_t	 i;

	if (strnlen(s, UUID_LEN + 1) != UUID_LEN)
		return -1;
	for (i = 0; i <= UUID_LEN; i++)
		buf[i] = s[i] >= 'A' && s[i] <= 'F' ? (char)(s[i] - 'A' + 'a') :
		    s[i];
	if (!valid_uuid(buf))
		return -1;
	memcpy(dst, buf, sizeof(buf));
	return 0;
}

/* Known query parameters of ROUTE_TICKETS. */
enum qparam {
	QP_ZONE,
	QP_LIMIT,
	QP_AFTER,
	QP__MAX
};

static const char *const qp_names[QP__MAX] = { "zoneId", "limit", "after" };

/* The known parameter a raw key names, or QP__MAX (ignored: unknown, too
 * long or badly escaped, none of which can name a known one). */
static int
qp_find(const char *raw, size_t len)
{
	char	key[16];
	int	k;

	if (route_decode(raw, len, key, sizeof(key), 1) < 0)
		return QP__MAX;
	for (k = 0; k < QP__MAX; k++)
		if (strcmp(key, qp_names[k]) == 0)
			break;
	return k;
}

/* Checks the decoded value of known parameter k into rt.  Returns NULL,
 * or the reason it is bad. */
static const char *
qp_value(int k, const char *val, struct route *rt)
{
	switch (k) {
	case QP_ZONE:
		if (valid_long(val, 1, SEAT_MAX, &rt->zone) != 0)
			return "zoneId must be an integer from 1 to 2147483647";
		break;
	case QP_LIMIT:
		if (valid_long(val, 1, ROUTE_LIMIT_MAX, &rt->limit) != 0)
			return "limit must be an integer from 1 to 1000";
		break;
	default:
		if (take_uuid(val, rt->after) != 0)
			return "after must be a ticketId (a UUID)";
		break;
	}
	return NULL;
}

/* Parses the query string of ROUTE_TICKETS: known parameters are checked,
 * others ignored; an empty value counts as absent; a known parameter given
 * twice is an error.  Returns NULL or why not. */
static const char *
tickets_query(const char *q, struct route *rt)
{
	char		 val[ROUTE_SEG_MAX];
	const char	*amp, *eq, *why;
	size_t		 len, klen;
	int		 seen[QP__MAX] = { 0 }, k;

	rt->limit = ROUTE_LIMIT_DEFAULT;
	if (q == NULL || *q == '\0')
		return NULL;
	for (;; q = amp + 1) {
		amp = strchr(q, '&');
		len = amp != NULL ? (size_t)(amp - q) : strlen(q);
		eq = memchr(q, '=', len);
		klen = eq != NULL ? (size_t)(eq - q) : len;
		if ((k = qp_find(q, klen)) < QP__MAX) {
			if (route_decode(q + klen + (eq != NULL),
			    len - klen - (eq != NULL), val, sizeof(val), 1) < 0)
				return "malformed query string";
			if (*val != '\0') {
				if (seen[k]++)
					return "a query parameter is repeated";
				if ((why = qp_value(k, val, rt)) != NULL)
					return why;
			}
		}
		if (amp == NULL)
			return NULL;
	}
}

/* Validates the parameters of a matched shape into rt: the query string's
 * length on every endpoint (most ignore its content), then the path's
 * parameters.  Returns NULL or the reason a parameter is malformed. */
static const char *
params(const struct segs *sg, const char *query, struct route *rt)
{
	if (query != NULL && strnlen(query, ROUTE_QUERY_MAX + 1) >
	    ROUTE_QUERY_MAX)
		return "query string too long";
	switch (rt->ep) {
	case ROUTE_VENUE_EVENTS:
		if (take_id(sg, 1, rt->venue) != 0)
			return "malformed venueId";
		break;
	case ROUTE_SEATS:
		if (sg->bad[3] || valid_long(sg->s[3], 1, SEAT_MAX,
		    &rt->zone) != 0)
			return "zoneId must be an integer from 1 to 2147483647";
		/* FALLTHROUGH */
	case ROUTE_EVENT:
	case ROUTE_STATS:
	case ROUTE_COUNT:
	case ROUTE_TICKETS:
		if (take_id(sg, 1, rt->event) != 0)
			return "malformed eventId";
		if (rt->ep == ROUTE_TICKETS)
			return tickets_query(query, rt);
		break;
	case ROUTE_TICKET:
		if (sg->bad[1] || take_uuid(sg->s[1], rt->ticket) != 0)
			return "ticketId must be a UUID";
		break;
	case ROUTE_ORDER:
		if (sg->bad[1] || take_uuid(sg->s[1], rt->order) != 0)
			return "orderId must be a UUID";
		break;
	case ROUTE_MONEY:
		if (take_id(sg, 1, rt->venue) != 0)
			return "malformed venueId";
		if (take_id(sg, 2, rt->event) != 0)
			return "malformed eventId";
		break;
	default:
		break;
	}
	return NULL;
}

enum route_err
route_parse(const char *method, const char *path, const char *query,
    struct route *rt, const char **why)
{
	struct segs	sg;
	int		ep;

	memset(rt, 0, sizeof(*rt));
	rt->head = method != NULL && strcmp(method, "HEAD") == 0;
	*why = "no such path";
	if (path == NULL || strnlen(path, ROUTE_PATH_MAX + 1) > ROUTE_PATH_MAX ||
	    split(path, &sg) != 0 || (ep = shape(&sg)) < 0)
		return ROUTE_ERR_NOT_FOUND;
	rt->ep = (enum route_ep)ep;
	if (!rt->head && (method == NULL || strcmp(method, "GET") != 0)) {
		*why = "use GET";
		return ROUTE_ERR_METHOD;
	}
	if ((*why = params(&sg, query, rt)) != NULL)
		return ROUTE_ERR_BAD_REQUEST;
	*why = NULL;
	return ROUTE_OK;
}
