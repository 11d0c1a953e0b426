/* SPDX-License-Identifier: ISC */
/*
 * catalog_doc.c - the catalog document: parse, check, write (see
 * catalog_doc.h).
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "catalog_doc.h"
#include "jsonesc.h"
#include "valid.h"
#include "when.h"

static int
fail(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int
fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -1;
}

/* The member key of o if it is there and not null, else NULL. */
static json_object *
member(json_object *o, const char *key)
{
	json_object *v;

	if (!json_object_object_get_ex(o, key, &v) ||
	    json_object_get_type(v) == json_type_null)
		return NULL;
	return v;
}

/* A string member of 1..max bytes into out; required or not. */
static int
get_str(json_object *o, const char *key, int required, char *out, size_t max,
    const char *what, char *err, size_t errlen)
{
	json_object	*v = member(o, key);
	size_t		 len;

	if (v == NULL) {
		if (!required)
			return 0;
		return fail(err, errlen, "%s: \"%s\" missing", what, key);
	}
	if (json_object_get_type(v) != json_type_string)
		return fail(err, errlen, "%s: \"%s\" is not a string", what, key);
	len = (size_t)json_object_get_string_len(v);
	if (len < 1 || len > max || memchr(json_object_get_string(v), '\0',
	    len) != NULL)
		return fail(err, errlen, "%s: \"%s\" must have 1 to %zu bytes",
		    what, key, max);
	memcpy(out, json_object_get_string(v), len);
	out[len] = '\0';
	return 1;
}

static int
get_id(json_object *o, const char *key, char out[ID_MAX + 1],
    const char *what, char *err, size_t errlen)
{
	if (get_str(o, key, 1, out, ID_MAX, what, err, errlen) < 0)
		return -1;
	if (!valid_id(out))
		return fail(err, errlen, "%s: \"%s\" is not an id "
		    "([A-Za-z0-9_-]{1,64})", what, key);
	return 0;
}

/* A JSON integer member in min..max. */
static int
get_int(json_object *o, const char *key, long min, long max, long *out,
    const char *what, char *err, size_t errlen)
{
	json_object	*v = member(o, key);
	int64_t		 n;

	if (v == NULL)
		return fail(err, errlen, "%s: \"%s\" missing", what, key);
	if (json_object_get_type(v) != json_type_int)
		return fail(err, errlen, "%s: \"%s\" is not an integer", what,
		    key);
	n = json_object_get_int64(v);
	if (n < min || n > max)
		return fail(err, errlen, "%s: \"%s\" must be %ld..%ld", what,
		    key, min, max);
	*out = (long)n;
	return 0;
}

/* An instant member; required or not (absent: *ms = -1). */
static int
get_when(json_object *o, const char *key, int required, long long *ms,
    const char *what, char *err, size_t errlen)
{
	char	s[64];
	int	r;

	*ms = -1;
	if ((r = get_str(o, key, required, s, sizeof(s) - 1, what, err,
	    errlen)) <= 0)
		return r;
	if (when_parse(s, ms) != 0)
		return fail(err, errlen, "%s: \"%s\" is not an RFC 3339 time "
		    "such as 2027-01-15T19:00:00Z", what, key);
	return 0;
}

/* How far from whole cents a price's double may be (see get_price()). */
#define PRICE_CENTS_SLACK	1e-6

/* The refusal of a price above CATDOC_PRICE_CENTS_MAX or below 0. */
static int
price_range(const char *what, char *err, size_t errlen)
{
	char	max[CATDOC_PRICE_LEN], total[CATDOC_PRICE_LEN];

	catdoc_price(CATDOC_PRICE_CENTS_MAX, max);
	catdoc_price(CATDOC_CENTS_MAX, total);
	return fail(err, errlen, "%s: \"price\" must be 0..%s (an order of "
	    "%d seats must fit a total of %s)", what, max, ORDER_TICKETS_MAX,
	    total);
}

static int
get_price(json_object *o, long long *cents, const char *what, char *err,
    size_t errlen)
{
	json_object	*v = member(o, "price");
	double		 d, c;

	if (v == NULL)
		return fail(err, errlen, "%s: \"price\" missing", what);
	if (json_object_get_type(v) == json_type_int) {
		if (json_object_get_int64(v) < 0 ||
		    json_object_get_int64(v) > CATDOC_PRICE_CENTS_MAX / 100)
			return price_range(what, err, errlen);
		*cents = json_object_get_int64(v) * 100;
		return 0;
	}
	if (json_object_get_type(v) != json_type_double)
		return fail(err, errlen, "%s: \"price\" is not a number", what);
	d = json_object_get_double(v);
	if (!isfinite(d) || d < 0 ||
	    d * 100 > (double)CATDOC_PRICE_CENTS_MAX + 0.5)
		return price_range(what, err, errlen);
	c = (double)(long long)(d * 100 + 0.5);
	if (c > (double)CATDOC_PRICE_CENTS_MAX)	/* 9999999.999 */
		return price_range(what, err, errlen);
	/* d * 100 of a price with 2 decimals is within 2e-7 of whole cents
	 * (doubles, up to CATDOC_PRICE_CENTS_MAX); a third decimal puts it
	 * 0.1 or more off: refused, never rounded away */
	if (fabs(d * 100 - c) > PRICE_CENTS_SLACK)
		return fail(err, errlen, "%s: \"price\" must have at most 2 "
		    "decimals", what);
	*cents = (long long)c;
	return 0;
}

/* The array member key (required), of at most max entries. */
static json_object *
get_array(json_object *o, const char *key, size_t max, const char *what,
    char *err, size_t errlen)
{
	json_object *v = member(o, key);

	if (v == NULL || json_object_get_type(v) != json_type_array) {
		fail(err, errlen, "%s: \"%s\" is not an array", what, key);
		return NULL;
	}
	if (json_object_array_length(v) > max) {
		fail(err, errlen, "%s: more than %zu entries in \"%s\"", what,
		    max, key);
		return NULL;
	}
	return v;
}

/* Fails if object o has a member whose name is not in names (NULL-ended):
 * a misspelt optional member ("onsale", "closesat") would otherwise be
 * left out in silence, and the catalog applied without it. */
static int
known_members(json_object *o, const char *const *names, const char *what,
    char *err, size_t errlen)
{
	size_t i;

	json_object_object_foreach(o, name, value) {
		(void)value;
		for (i = 0; names[i] != NULL && strcmp(names[i], name) != 0;
		    i++)
			;
		if (names[i] == NULL)
			return fail(err, errlen, "%s: unknown member \"%.64s\"",
			    what, name);
	}
	return 0;
}

static const char *const venue_members[] = { "venueId", "name", "zones",
	NULL };
static const char *const zone_members[] = { "zoneId", "rows", "columns",
	"price", NULL };
static const char *const event_members[] = { "eventId", "venueId", "name",
	"type", "date", "closesAt", "status", "onSale", NULL };
static const char *const window_members[] = { "fromZone", "toZone",
	"opensAt", NULL };
static const char *const doc_members[] = { "venues", "events", NULL };

static int
parse_venue(json_object *o, struct catdoc_venue *v, char *err, size_t errlen)
{
	json_object	*zones, *z;
	char		 what[128];
	size_t		 i, n;

	if (json_object_get_type(o) != json_type_object)
		return fail(err, errlen, "venue: not an object");
	if (get_id(o, "venueId", v->id, "venue", err, errlen) != 0)
		return -1;
	snprintf(what, sizeof(what), "venue %s", v->id);
	if (known_members(o, venue_members, what, err, errlen) != 0 ||
	    get_str(o, "name", 1, v->name, CATDOC_NAME_MAX, what, err,
	    errlen) < 0 ||
	    (zones = get_array(o, "zones", CATDOC_ZONES_MAX, what, err,
	    errlen)) == NULL)
		return -1;
	n = json_object_array_length(zones);
	if (n > 0 && (v->zones = calloc(n, sizeof(*v->zones))) == NULL)
		return fail(err, errlen, "out of memory");
	for (i = 0; i < n; i++, v->nzones++) {
		struct catdoc_zone *cz = &v->zones[i];

		z = json_object_array_get_idx(zones, i);
		snprintf(what, sizeof(what), "venue %s zone #%zu", v->id, i + 1);
		if (json_object_get_type(z) != json_type_object)
			return fail(err, errlen, "%s: not an object", what);
		if (get_int(z, "zoneId", 1, CATDOC_ZONE_ID_MAX, &cz->zone, what,
		    err, errlen) != 0)
			return -1;
		snprintf(what, sizeof(what), "venue %s zone %ld", v->id,
		    cz->zone);
		if (known_members(z, zone_members, what, err, errlen) != 0 ||
		    get_int(z, "rows", 1, CATDOC_SIDE_MAX, &cz->rows, what, err,
		    errlen) != 0 ||
		    get_int(z, "columns", 1, CATDOC_SIDE_MAX, &cz->cols, what,
		    err, errlen) != 0 ||
		    get_price(z, &cz->cents, what, err, errlen) != 0)
			return -1;
		if (cz->rows * cz->cols > CATDOC_ZONE_SEATS_MAX)
			return fail(err, errlen, "%s: %ld rows x %ld columns "
			    "is %ld seats, more than a zone may have (%ld: its "
			    "seat map must fit one answer)", what, cz->rows,
			    cz->cols, cz->rows * cz->cols,
			    CATDOC_ZONE_SEATS_MAX);
	}
	return 0;
}

static int
parse_onsale(json_object *arr, struct catdoc_event *e, char *err,
    size_t errlen)
{
	json_object	*w;
	char		 what[128];
	size_t		 i, n = json_object_array_length(arr);

	if (n == 0)
		return 0;
	if ((e->onsale = calloc(n, sizeof(*e->onsale))) == NULL)
		return fail(err, errlen, "out of memory");
	for (i = 0; i < n; i++, e->nonsale++) {
		struct catdoc_onsale *o = &e->onsale[i];

		w = json_object_array_get_idx(arr, i);
		snprintf(what, sizeof(what), "event %s onSale #%zu", e->id,
		    i + 1);
		if (json_object_get_type(w) != json_type_object)
			return fail(err, errlen, "%s: not an object", what);
		if (known_members(w, window_members, what, err, errlen) != 0 ||
		    get_int(w, "fromZone", 1, CATDOC_ZONE_ID_MAX, &o->from,
		    what, err, errlen) != 0 ||
		    get_int(w, "toZone", 1, CATDOC_ZONE_ID_MAX, &o->to, what,
		    err, errlen) != 0 ||
		    get_when(w, "opensAt", 1, &o->opens_ms, what, err,
		    errlen) != 0)
			return -1;
		if (o->from > o->to)
			return fail(err, errlen, "%s: fromZone after toZone",
			    what);
	}
	return 0;
}

static int
parse_event(json_object *o, struct catdoc_event *e, char *err, size_t errlen)
{
	json_object	*arr;
	char		 what[128], status[16];

	if (json_object_get_type(o) != json_type_object)
		return fail(err, errlen, "event: not an object");
	if (get_id(o, "eventId", e->id, "event", err, errlen) != 0)
		return -1;
	snprintf(what, sizeof(what), "event %s", e->id);
	if (known_members(o, event_members, what, err, errlen) != 0 ||
	    get_id(o, "venueId", e->venue, what, err, errlen) != 0 ||
	    get_str(o, "name", 1, e->name, CATDOC_NAME_MAX, what, err,
	    errlen) < 0 ||
	    get_str(o, "type", 1, e->type, CATDOC_TYPE_MAX, what, err,
	    errlen) < 0 ||
	    get_when(o, "date", 1, &e->date_ms, what, err, errlen) != 0 ||
	    get_when(o, "closesAt", 0, &e->closes_ms, what, err, errlen) != 0)
		return -1;
	if (e->date_ms % 1000 != 0)
		return fail(err, errlen, "%s: \"date\" has a fraction of a "
		    "second", what);
	strcpy(status, "SCHEDULED");
	if (get_str(o, "status", 0, status, sizeof(status) - 1, what, err,
	    errlen) < 0)
		return -1;
	if (strcmp(status, "CANCELLED") == 0)
		e->cancelled = 1;
	else if (strcmp(status, "SCHEDULED") != 0)
		return fail(err, errlen, "%s: \"status\" must be SCHEDULED or "
		    "CANCELLED", what);
	if (member(o, "onSale") == NULL)
		return 0;
	if ((arr = get_array(o, "onSale", CATDOC_ONSALE_MAX, what, err,
	    errlen)) == NULL)
		return -1;
	return parse_onsale(arr, e, err, errlen);
}

static int
parse_doc(json_object *root, struct catdoc *doc, char *err, size_t errlen)
{
	json_object	*venues, *events;
	size_t		 i, n;

	if (json_object_get_type(root) != json_type_object)
		return fail(err, errlen, "the document is not a JSON object");
	if (known_members(root, doc_members, "catalog", err, errlen) != 0)
		return -1;
	if ((venues = get_array(root, "venues", CATDOC_VENUES_MAX, "catalog",
	    err, errlen)) == NULL ||
	    (events = get_array(root, "events", CATDOC_EVENTS_MAX, "catalog",
	    err, errlen)) == NULL)
		return -1;
	n = json_object_array_length(venues);
	if (n > 0 && (doc->venues = calloc(n, sizeof(*doc->venues))) == NULL)
		return fail(err, errlen, "out of memory");
	/* counted before parsing: catdoc_free() frees a half-parsed one */
	for (i = 0; i < n; i++)
		if ((doc->nvenues = i + 1, parse_venue(
		    json_object_array_get_idx(venues, i), &doc->venues[i], err,
		    errlen)) != 0)
			return -1;
	n = json_object_array_length(events);
	if (n > 0 && (doc->events = calloc(n, sizeof(*doc->events))) == NULL)
		return fail(err, errlen, "out of memory");
	for (i = 0; i < n; i++)
		if ((doc->nevents = i + 1, parse_event(
		    json_object_array_get_idx(events, i), &doc->events[i], err,
		    errlen)) != 0)
			return -1;
	return catdoc_check(doc, err, errlen);
}

/* ------------------------------------------------- members given twice */

#define DUP_NAME_MAX	32	/* a longer name is none of ours:
				   known_members() refuses it */
#define DUP_MEMBERS_MAX	16	/* ours have at most 8: past this many,
				   names are unknown, refused as well */

/* One open object (or array) of the document being scanned. */
struct dup_level {
	char	name[DUP_MEMBERS_MAX][DUP_NAME_MAX];
	int	n;
	int	object;		/* else an array */
	int	want_name;	/* the next string is a member's name */
};

static unsigned
hexval(char c)
{
	return c >= '0' && c <= '9' ? (unsigned)(c - '0') :
	    c >= 'a' && c <= 'f' ? (unsigned)(c - 'a' + 10) :
	    c >= 'A' && c <= 'F' ? (unsigned)(c - 'A' + 10) : 0;
}

/* Reads the JSON string at buf[*i] (its opening quote) and moves *i past
 * its closing one.  Its text, escapes decoded, into out; "" if it is
 * longer than DUP_NAME_MAX - 1 bytes or has anything but printable ASCII
 * (no member name of ours). */
static void
scan_string(const char *buf, size_t len, size_t *i, char out[DUP_NAME_MAX])
{
	size_t		n = 0, k;
	unsigned	c;
	int		keep = 1;

	for ((*i)++; *i < len && buf[*i] != '"'; (*i)++) {
		c = (unsigned char)buf[*i];
		if (c == '\\' && *i + 1 < len) {
			c = (unsigned char)buf[++(*i)];
			if (c == 'u') {
				for (c = 0, k = 1; k <= 4 && *i + k < len; k++)
					c = c * 16 + hexval(buf[*i + k]);
				*i += 4;
			} else if (c != '"' && c != '\\' && c != '/')
				c = 0;	/* \b \f \n \r \t */
		}
		if (c < 0x20 || c >= 0x7f || n + 1 >= DUP_NAME_MAX)
			keep = 0;
		else if (keep)
			out[n++] = (char)c;
	}
	(*i)++;
	out[keep ? n : 0] = '\0';
}

/*
 * Fails if an object of the document (valid JSON: json-c took it) has a
 * member twice: json-c keeps the last, so {"status": "CANCELLED", ...,
 * "status": "SCHEDULED"} would reopen a cancelled event, a second
 * "onSale": null drop a staged release, in silence.  Names are compared
 * decoded ("on\u0053ale" is "onSale").
 */
static int
twice(const char *buf, size_t len, char *err, size_t errlen)
{
	struct dup_level	 lv[CATDOC_DEPTH_MAX + 1], *top = NULL;
	char			 name[DUP_NAME_MAX];
	size_t			 i = 0, at;
	int			 d = -1, k;

	while (i < len) {
		switch (buf[i]) {
		case '{':
		case '[':
			if (d + 1 > CATDOC_DEPTH_MAX)	/* json-c refused it */
				return fail(err, errlen, "nested too deep");
			top = &lv[++d];
			top->n = 0;
			top->object = buf[i] == '{';
			top->want_name = top->object;
			break;
		case '}':
		case ']':
			top = --d >= 0 ? &lv[d] : NULL;
			break;
		case ',':
			if (top != NULL && top->object)
				top->want_name = 1;
			break;
		case '"':
			at = i;
			scan_string(buf, len, &i, name);
			if (top == NULL || !top->want_name)
				continue;
			top->want_name = 0;
			if (name[0] == '\0')
				continue;
			for (k = 0; k < top->n && strcmp(top->name[k], name) != 0;
			    k++)
				;
			if (k < top->n)
				return fail(err, errlen, "member \"%s\" given twice "
				    "in one object (byte %zu)", name, at);
			if (top->n < DUP_MEMBERS_MAX)
				memcpy(top->name[top->n++], name, sizeof(name));
			continue;
		}
		i++;
	}
	return 0;
}

int
catdoc_parse(const char *buf, size_t len, struct catdoc *doc, char *err,
    size_t errlen)
{
	struct json_tokener	*tok;
	json_object		*root;
	int			 r;

	memset(doc, 0, sizeof(*doc));
	if (len > (size_t)CATDOC_BYTES_MAX)
		return fail(err, errlen, "document larger than %ld bytes",
		    CATDOC_BYTES_MAX);
	if ((tok = json_tokener_new_ex(CATDOC_DEPTH_MAX)) == NULL)
		return fail(err, errlen, "out of memory");
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
	root = json_tokener_parse_ex(tok, buf, (int)len);
	if (root == NULL || json_tokener_get_error(tok) != json_tokener_success
	    || (size_t)json_tokener_get_parse_end(tok) != len) {
		r = fail(err, errlen, "not a JSON document (%s at byte %zu)",
		    root == NULL ? json_tokener_error_desc(
		    json_tokener_get_error(tok)) : "trailing data",
		    json_tokener_get_parse_end(tok));
		json_object_put(root);
		json_tokener_free(tok);
		return r;
	}
	json_tokener_free(tok);
	/* json-c's strict mode still takes single-quoted names (which the
	 * check for a member given twice would not see), "1.", raw control
	 * characters and invalid UTF-8; RFC 8259 does not, nor do we */
	if (!valid_json(buf, len, CATDOC_DEPTH_MAX)) {
		json_object_put(root);
		return fail(err, errlen, "not strict JSON (RFC 8259): a name in "
		    "single quotes, a number such as \"1.\", a control "
		    "character or invalid UTF-8 in a string");
	}
	r = twice(buf, len, err, errlen) != 0 ? -1 :
	    parse_doc(root, doc, err, errlen);
	json_object_put(root);
	return r;
}

/* ------------------------------------------------------------ checks */

static int
cmp_venue(const void *a, const void *b)
{
	return strcmp(((const struct catdoc_venue *)a)->id,
	    ((const struct catdoc_venue *)b)->id);
}

static int
cmp_zone(const void *a, const void *b)
{
	long x = ((const struct catdoc_zone *)a)->zone;
	long y = ((const struct catdoc_zone *)b)->zone;

	return x < y ? -1 : x > y;
}

static int
cmp_event(const void *a, const void *b)
{
	return strcmp(((const struct catdoc_event *)a)->id,
	    ((const struct catdoc_event *)b)->id);
}

static int
cmp_onsale(const void *a, const void *b)
{
	long x = ((const struct catdoc_onsale *)a)->from;
	long y = ((const struct catdoc_onsale *)b)->from;

	return x < y ? -1 : x > y;
}

int
catdoc_check(struct catdoc *doc, char *err, size_t errlen)
{
	struct catdoc_venue	*v;
	struct catdoc_event	*e;
	size_t			 i, k;

	if (doc->nvenues > 1)
		qsort(doc->venues, doc->nvenues, sizeof(*v), cmp_venue);
	if (doc->nevents > 1)
		qsort(doc->events, doc->nevents, sizeof(*e), cmp_event);
	for (i = 0; i < doc->nvenues; i++) {
		v = &doc->venues[i];
		if (i > 0 && strcmp(v[-1].id, v->id) == 0)
			return fail(err, errlen, "venue %s: twice", v->id);
		if (v->nzones > 1)
			qsort(v->zones, v->nzones, sizeof(*v->zones),
			    cmp_zone);
		for (k = 1; k < v->nzones; k++)
			if (v->zones[k - 1].zone == v->zones[k].zone)
				return fail(err, errlen, "venue %s zone %ld: "
				    "twice", v->id, v->zones[k].zone);
	}
	for (i = 0; i < doc->nevents; i++) {
		e = &doc->events[i];
		if (i > 0 && strcmp(e[-1].id, e->id) == 0)
			return fail(err, errlen, "event %s: twice", e->id);
		if (catdoc_venue(doc, e->venue) == NULL)
			return fail(err, errlen, "event %s: venue %s is not in "
			    "the catalog", e->id, e->venue);
		if (e->nonsale > 1)
			qsort(e->onsale, e->nonsale, sizeof(*e->onsale),
			    cmp_onsale);
		for (k = 1; k < e->nonsale; k++)
			if (e->onsale[k].from <= e->onsale[k - 1].to)
				return fail(err, errlen, "event %s: onSale "
				    "windows %ld-%ld and %ld-%ld overlap",
				    e->id, e->onsale[k - 1].from,
				    e->onsale[k - 1].to, e->onsale[k].from,
				    e->onsale[k].to);
	}
	return 0;
}

/* ------------------------------------------------------------ lookups */

const struct catdoc_venue *
catdoc_venue(const struct catdoc *doc, const char *id)
{
	struct catdoc_venue key;

	if (doc->nvenues == 0)
		return NULL;
	snprintf(key.id, sizeof(key.id), "%s", id);
	return bsearch(&key, doc->venues, doc->nvenues, sizeof(key),
	    cmp_venue);
}

const struct catdoc_zone *
catdoc_zone(const struct catdoc_venue *v, long zone)
{
	struct catdoc_zone key = { .zone = zone };

	if (v == NULL || v->nzones == 0)
		return NULL;
	return bsearch(&key, v->zones, v->nzones, sizeof(key), cmp_zone);
}

struct catdoc_event *
catdoc_event(const struct catdoc *doc, const char *id)
{
	struct catdoc_event *key;
	struct catdoc_event *r;

	if (doc->nevents == 0 || (key = calloc(1, sizeof(*key))) == NULL)
		return NULL;
	snprintf(key->id, sizeof(key->id), "%s", id);
	r = bsearch(key, doc->events, doc->nevents, sizeof(*key), cmp_event);
	free(key);
	return r;
}

long long
catdoc_opens(const struct catdoc_event *e, long zone)
{
	size_t i;

	for (i = 0; i < e->nonsale; i++)
		if (zone >= e->onsale[i].from && zone <= e->onsale[i].to)
			return e->onsale[i].opens_ms;
	return -1;
}

void
catdoc_price(long long cents, char out[CATDOC_PRICE_LEN])
{
	/* cents are capped by catdoc_cents (DECIMAL(10,2)): always fits */
	if (snprintf(out, CATDOC_PRICE_LEN, "%lld.%02lld", cents / 100,
	    cents % 100) >= CATDOC_PRICE_LEN)
		out[0] = '\0';
}

int
catdoc_cents(const char *s, long long *cents)
{
	long long	v = 0;
	int		n = 0, dec = -1;

	for (; *s != '\0'; s++) {
		if (*s == '.' && dec < 0) {
			dec = 0;
			continue;
		}
		if (*s < '0' || *s > '9' || ++n > 10)
			return -1;
		v = v * 10 + (*s - '0');
		if (dec >= 0 && ++dec > 2)
			return -1;
	}
	if (n == 0)
		return -1;
	for (; dec < 2; dec = dec < 0 ? 1 : dec + 1)
		v *= 10;
	*cents = v;
	return 0;
}

/* ------------------------------------------------------------- writer */

static void
put_str(FILE *f, const char *s)
{
	char buf[CATDOC_NAME_MAX * 6 + 1];

	if (json_escape(s, buf, sizeof(buf)) < 0)
		buf[0] = '\0';	/* cannot happen: names are capped */
	fprintf(f, "\"%s\"", buf);
}

static void
write_venue(const struct catdoc_venue *v, FILE *f)
{
	char	price[CATDOC_PRICE_LEN];
	size_t	k;

	fprintf(f, "  {\"venueId\": \"%s\", \"name\": ", v->id);
	put_str(f, v->name);
	fprintf(f, ",\n   \"zones\": [");
	for (k = 0; k < v->nzones; k++) {
		catdoc_price(v->zones[k].cents, price);
		fprintf(f, "%s\n    {\"zoneId\": %ld, \"rows\": %ld, "
		    "\"columns\": %ld, \"price\": %s}", k ? "," : "",
		    v->zones[k].zone, v->zones[k].rows, v->zones[k].cols,
		    price);
	}
	fprintf(f, "]}");
}

static void
write_event(const struct catdoc_event *e, FILE *f)
{
	char	when[WHEN_LEN + 1];
	size_t	k;

	fprintf(f, "  {\"eventId\": \"%s\", \"venueId\": \"%s\", \"name\": ",
	    e->id, e->venue);
	put_str(f, e->name);
	fprintf(f, ", \"type\": ");
	put_str(f, e->type);
	when_format(e->date_ms, when);
	fprintf(f, ",\n   \"date\": \"%s\", \"status\": \"%s\"", when,
	    e->cancelled ? "CANCELLED" : "SCHEDULED");
	if (e->closes_ms >= 0) {
		when_format(e->closes_ms, when);
		fprintf(f, ", \"closesAt\": \"%s\"", when);
	}
	fprintf(f, ",\n   \"onSale\": [");
	for (k = 0; k < e->nonsale; k++) {
		when_format(e->onsale[k].opens_ms, when);
		fprintf(f, "%s\n    {\"fromZone\": %ld, \"toZone\": %ld, "
		    "\"opensAt\": \"%s\"}", k ? "," : "", e->onsale[k].from,
		    e->onsale[k].to, when);
	}
	fprintf(f, "]}");
}

int
catdoc_write(const struct catdoc *doc, FILE *f)
{
	size_t i;

	fprintf(f, "{\"venues\": [\n");
	for (i = 0; i < doc->nvenues; i++) {
		write_venue(&doc->venues[i], f);
		fprintf(f, "%s\n", i + 1 < doc->nvenues ? "," : "");
	}
	fprintf(f, " ],\n \"events\": [\n");
	for (i = 0; i < doc->nevents; i++) {
		write_event(&doc->events[i], f);
		fprintf(f, "%s\n", i + 1 < doc->nevents ? "," : "");
	}
	fprintf(f, " ]}\n");
	return ferror(f) ? -1 : 0;
}

void
catdoc_free(struct catdoc *doc)
{
	size_t i;

	for (i = 0; i < doc->nvenues; i++)
		free(doc->venues[i].zones);
	for (i = 0; i < doc->nevents; i++)
		free(doc->events[i].onsale);
	free(doc->venues);
	free(doc->events);
	memset(doc, 0, sizeof(*doc));
}
