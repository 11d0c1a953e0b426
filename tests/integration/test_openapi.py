# SPDX-License-Identifier: ISC
"""docs/openapi.yaml against the running servers.

The description itself: OpenAPI 3.1, every $ref resolves, every schema is a
valid JSON Schema 2020-12 (python3-jsonschema's Draft202012Validator; Debian
12 packages no OpenAPI validator, so the document's structure is checked
here by hand), path parameters declared.  Then every documented path,
method and status gets one real request (PROBES) through nginx, lighttpd
and Apache -- the 503s with Redis or MySQL stopped, through nginx -- and the
answer must have that status, the documented headers, and a JSON body that
validates against the documented schema.  A documented status without a
probe, or a probe of an undocumented one, fails too.  The answers of the
catalog's sale windows and cancellation (403 NOT_ON_SALE and SALE_CLOSED,
410 EVENT_CANCELLED, and the sale fields of the queries) are probed with a
catalog applied for them (tests/lib/catalog.py), the seed put back after.
"""

import json
import os
import re
from datetime import timedelta

import box
import catalog
from box import NGINX, WEB_PORTS, check, eq

yaml, jsonschema = box.debian_modules("yaml", "jsonschema")

SPEC_FILE = os.path.join(box.ROOT, "docs", "openapi.yaml")
with open(SPEC_FILE) as f:
    SPEC = yaml.safe_load(f)
METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
UUID0 = "01a21fb3-0000-7000-8000-000000000000"


def seat(col, row=1):
    return {"venueId": "Venue2", "eventId": "Event2", "zoneId": 4, "row": row, "column": col}


def legacy(query):
    return "/ticket?venueId=Venue2&eventId=Event2&zoneId=4&" + query


# the catalog of the sale probes (sale_catalog): Event3's zone 1 opens in an
# hour, Event1's sale closed an hour ago, EventOff is cancelled
def at(venue, event):
    return {"venueId": venue, "eventId": event, "zoneId": 1, "row": 1, "column": "{i}"}


def at_legacy(venue, event):
    return "/ticket?venueId=%s&eventId=%s&zoneId=1&row=A&column={i}" % (venue, event)


JSON = {"Content-Type": "application/json"}

# (path, method, status[, error code]) -> (fault, method, url, body,
# headers); {i} in a body column or url is the web server's index (each buys
# its own seats), {ticket} the ticketId of that server's first 201.  fault:
# the store that is stopped for the probe (those run through nginx only),
# or "catalog": run with sale_catalog() applied.  With an error code, the
# body's "error" must be it (one status, several answers).
PROBES = {
    ("/tickets", "post", "403", "NOT_ON_SALE"): ("catalog", "POST", "/tickets", at("Venue2", "Event3"), None),
    ("/tickets", "post", "403", "SALE_CLOSED"): ("catalog", "POST", "/tickets", at("Venue1", "Event1"), None),
    ("/tickets", "post", "410", "EVENT_CANCELLED"): ("catalog", "POST", "/tickets", at("Venue2", "EventOff"), None),
    ("/ticket", "post", "403", "NOT_ON_SALE"): ("catalog", "POST", at_legacy("Venue2", "Event3"), None, None),
    ("/ticket", "post", "403", "SALE_CLOSED"): ("catalog", "POST", at_legacy("Venue1", "Event1"), None, None),
    ("/ticket", "post", "410", "EVENT_CANCELLED"): ("catalog", "POST", at_legacy("Venue2", "EventOff"), None, None),
    ("/tickets", "post", "201"): (None, "POST", "/tickets", seat("{i}"), None),
    ("/tickets", "post", "409"): (None, "POST", "/tickets", seat("{i}"), None),
    ("/tickets", "post", "400"): (None, "POST", "/tickets", "not json", JSON),
    ("/tickets", "post", "404"): (None, "POST", "/tickets", dict(seat(1), eventId="Event1"), None),
    ("/tickets", "post", "405"): (None, "GET", "/tickets", None, None),
    ("/tickets", "post", "413"): (None, "POST", "/tickets", "x" * 5000, JSON),
    ("/tickets", "post", "415"): (None, "POST", "/tickets", json.dumps(seat(1)), {"Content-Type": "text/plain"}),
    ("/tickets", "post", "503"): ("redis", "POST", "/tickets", seat(4), None),
    ("/ticket", "post", "201"): (None, "POST", legacy("row=B&column={i}"), None, None),
    ("/ticket", "post", "409"): (None, "POST", legacy("row=B&column={i}"), None, None),
    ("/ticket", "post", "400"): (None, "POST", "/ticket?venueId=Venue2", None, None),
    ("/ticket", "post", "404"): (None, "POST", "/ticket?venueId=Venue9&eventId=Event2&zoneId=4&row=1&column=1",
                                 None, None),
    ("/ticket", "post", "405"): (None, "GET", legacy("row=1&column=1"), None, None),
    ("/ticket", "post", "415"): (None, "POST", "/ticket", "x", {"Content-Type": "text/plain"}),
    ("/ticket", "post", "503"): ("redis", "POST", legacy("row=C&column=4"), None, None),
    ("/tickets/health", "get", "200"): (None, "GET", "/tickets/health", None, None),
    ("/tickets/health", "get", "405"): (None, "POST", "/tickets/health", "{}", JSON),
    ("/tickets/health", "get", "503"): ("redis", "GET", "/tickets/health", None, None),
    ("/get/venues", "get", "200"): (None, "GET", "/get/venues", None, None),
    ("/get/venues", "get", "405"): (None, "POST", "/get/venues", "{}", JSON),
    ("/get/venues", "get", "503"): ("mysql", "GET", "/get/venues", None, None),
    ("/get/venues/{venueId}/events", "get", "200"): (None, "GET", "/get/venues/Venue2/events", None, None),
    ("/get/venues/{venueId}/events", "get", "400"): (None, "GET", "/get/venues/Ven%20ue/events", None, None),
    ("/get/venues/{venueId}/events", "get", "404"): (None, "GET", "/get/venues/Venue9/events", None, None),
    ("/get/venues/{venueId}/events", "get", "503"): ("mysql", "GET", "/get/venues/Venue2/events", None, None),
    ("/get/events/{eventId}", "get", "200"): (None, "GET", "/get/events/Event2", None, None),
    ("/get/events/{eventId}", "get", "400"): (None, "GET", "/get/events/Ev.ent1", None, None),
    ("/get/events/{eventId}", "get", "404"): (None, "GET", "/get/events/Event9", None, None),
    ("/get/events/{eventId}", "get", "503"): ("mysql", "GET", "/get/events/Event2", None, None),
    ("/get/events/{eventId}/zones/{zoneId}/seats", "get", "200"):
        (None, "GET", "/get/events/Event2/zones/4/seats", None, None),
    ("/get/events/{eventId}/zones/{zoneId}/seats", "get", "400"):
        (None, "GET", "/get/events/Event2/zones/0/seats", None, None),
    ("/get/events/{eventId}/zones/{zoneId}/seats", "get", "404"):
        (None, "GET", "/get/events/Event2/zones/5/seats", None, None),
    ("/get/events/{eventId}/zones/{zoneId}/seats", "get", "503"):
        ("redis", "GET", "/get/events/Event2/zones/4/seats", None, None),
    ("/get/tickets/{ticketId}", "get", "200"): (None, "GET", "/get/tickets/{ticket}", None, None),
    ("/get/tickets/{ticketId}", "get", "400"): (None, "GET", "/get/tickets/not-a-uuid", None, None),
    ("/get/tickets/{ticketId}", "get", "404"): (None, "GET", "/get/tickets/" + UUID0, None, None),
    ("/get/tickets/{ticketId}", "get", "503"): ("mysql", "GET", "/get/tickets/" + UUID0, None, None),
    ("/get/events/{eventId}/tickets", "get", "200"): (None, "GET", "/get/events/Event2/tickets?limit=2", None, None),
    ("/get/events/{eventId}/tickets", "get", "400"): (None, "GET", "/get/events/Event2/tickets?limit=0", None, None),
    ("/get/events/{eventId}/tickets", "get", "404"): (None, "GET", "/get/events/Event9/tickets", None, None),
    ("/get/events/{eventId}/tickets", "get", "503"): ("mysql", "GET", "/get/events/Event2/tickets", None, None),
    ("/get/events/{eventId}/stats", "get", "200"): (None, "GET", "/get/events/Event2/stats", None, None),
    ("/get/events/{eventId}/stats", "get", "400"): (None, "GET", "/get/events/Ev.ent1/stats", None, None),
    ("/get/events/{eventId}/stats", "get", "404"): (None, "GET", "/get/events/Event9/stats", None, None),
    ("/get/events/{eventId}/stats", "get", "503"): ("mysql", "GET", "/get/events/Event2/stats", None, None),
    ("/get/count/{eventId}", "get", "200"): (None, "GET", "/get/count/Event2", None, None),
    ("/get/count/{eventId}", "get", "400"): (None, "GET", "/get/count/Event%C3%A9", None, None),
    ("/get/count/{eventId}", "get", "404"): (None, "GET", "/get/count/Event9", None, None),
    ("/get/count/{eventId}", "get", "503"): ("mysql", "GET", "/get/count/Event2", None, None),
    ("/get/money/{venueId}/{eventId}", "get", "200"): (None, "GET", "/get/money/Venue2/Event2", None, None),
    ("/get/money/{venueId}/{eventId}", "get", "400"): (None, "GET", "/get/money/Venue1/Ev!", None, None),
    ("/get/money/{venueId}/{eventId}", "get", "404"): (None, "GET", "/get/money/Venue1/Event2", None, None),
    ("/get/money/{venueId}/{eventId}", "get", "503"): ("mysql", "GET", "/get/money/Venue2/Event2", None, None),
    ("/get/health", "get", "200"): (None, "GET", "/get/health", None, None),
    ("/get/health", "get", "405"): (None, "POST", "/get/health", "{}", JSON),
    ("/get/health", "get", "503"): ("mysql", "GET", "/get/health", None, None),
}


# ------------------------------------------------------------- the document

def resolve(node):
    """Follows a local $ref ("#/a/b") to what it names."""
    while isinstance(node, dict) and "$ref" in node and len(node) == 1:
        ref = node["$ref"]
        check(ref.startswith("#/"), "only local $refs: %s" % ref)
        node = SPEC
        for part in ref[2:].split("/"):
            check(isinstance(node, dict) and part in node, "$ref %s does not resolve" % ref)
            node = node[part]
    return node


def refs(node):
    if isinstance(node, dict):
        for k, v in node.items():
            if k == "$ref":
                yield v
            else:
                yield from refs(v)
    elif isinstance(node, list):
        for v in node:
            yield from refs(v)


def documented():
    """{(path, method, status): resolved response object}"""
    out = {}
    for path, item in SPEC["paths"].items():
        for method, op in item.items():
            if method in METHODS:
                for status, resp in op["responses"].items():
                    out[(path, method, status)] = resolve(resp)
    return out


def validator(schema):
    resolver = jsonschema.RefResolver("", SPEC)
    return jsonschema.Draft202012Validator(schema, resolver=resolver)


def test_document_is_openapi_3_1():
    check(str(SPEC.get("openapi", "")).startswith("3.1."), "openapi: %r" % SPEC.get("openapi"))
    for key in ("title", "version"):
        check(SPEC["info"].get(key), "info.%s" % key)
    for ref in refs(SPEC):
        resolve({"$ref": ref})
    for name, schema in SPEC["components"]["schemas"].items():
        try:
            jsonschema.Draft202012Validator.check_schema(schema)
        except jsonschema.exceptions.SchemaError as e:
            raise box.Fail("schema %s: %s" % (name, e.message))
    for path, item in SPEC["paths"].items():
        check(path.startswith("/"), "path %s" % path)
        wanted = set(re.findall(r"\{(\w+)\}", path))
        for method, op in item.items():
            check(method in METHODS or method in ("parameters", "summary", "description"),
                  "%s: unknown key %s" % (path, method))
            if method not in METHODS:
                continue
            check(op.get("operationId") and op.get("responses"), "%s %s: operationId, responses" % (method, path))
            params = [resolve(p) for p in item.get("parameters", []) + op.get("parameters", [])]
            got = {p["name"] for p in params if p["in"] == "path"}
            eq(got, wanted, "%s %s path parameters" % (method, path))
            for p in params:
                check(p["in"] != "path" or p.get("required") is True, "path parameter %s required" % p["name"])
            for status, resp in op["responses"].items():
                resp = resolve(resp)
                check(re.match(r"^[1-5][0-9][0-9]$", status), "%s %s: status %s" % (method, path, status))
                check(resp.get("description"), "%s %s %s: description" % (method, path, status))
                for mt, c in resp.get("content", {}).items():
                    check("schema" in c, "%s %s %s %s: schema" % (method, path, status, mt))
                    jsonschema.Draft202012Validator.check_schema(c["schema"])


def test_every_documented_status_has_a_probe():
    docs, probed = set(documented()), {k[:3] for k in PROBES}
    eq(sorted(docs - probed), [], "documented but never requested")
    eq(sorted(probed - docs), [], "requested but not documented")


# ------------------------------------------------------------------ answers

def fill(value, i, ticket):
    if isinstance(value, str):
        return value.replace("{i}", str(i + 1)).replace("{ticket}", ticket or UUID0)
    if isinstance(value, dict):
        return {k: (int(fill(v, i, ticket)) if v == "{i}" else fill(v, i, ticket)) for k, v in value.items()}
    return value


def probe(key, port, i, ticket):
    """Sends the probe of key through port; checks status, headers and body
    against the document; returns the answer."""
    path, method, status = key[:3]
    _, verb, url, body, headers = PROBES[key]
    r = box.http(verb, fill(url, i, ticket), fill(body, i, ticket), headers=headers, port=port)
    what = "%s %s -> %s via %d" % (method.upper(), path, " ".join(key[2:]), port)
    eq(str(r.status), status, "%s status (body %s)" % (what, r.body[:200]))
    if len(key) > 3:
        eq(r.json().get("error"), key[3], what + " error")
    resp = documented()[key[:3]]
    for name, h in resp.get("headers", {}).items():
        h = resolve(h)
        value = r.header(name)
        if value is None and h.get("required") is False:
            continue
        check(value is not None, "%s: header %s missing" % (what, name))
        errs = list(validator(h["schema"]).iter_errors(value))
        check(not errs, "%s: header %s %r: %s" % (what, name, value, errs[:1]))
    content = resp.get("content", {})
    if "application/json" in content:
        eq((r.header("Content-Type") or "").split(";")[0], "application/json", what + " content type")
        try:
            data = json.loads(r.body)
        except ValueError:
            raise box.Fail("%s: body is not JSON: %r" % (what, r.body[:200]))
        errs = sorted(validator(content["application/json"]["schema"]).iter_errors(data), key=str)
        check(not errs, "%s: body %s does not match the schema: %s at %s" %
              (what, r.body[:200], errs[0].message if errs else "", list(errs[0].path) if errs else ""))
    return r


def setup_module():
    catalog.restore()


def test_every_path_answers_as_documented():
    keys = [k for k in PROBES if PROBES[k][0] is None]
    # the 201s first (the 409s buy the same seats again, lookups need an id)
    keys.sort(key=lambda k: (k[2] != "201", k[2] == "409"))
    for i, port in enumerate(WEB_PORTS):
        ticket = None
        for key in keys:
            r = probe(key, port, i, ticket)
            if key[2] == "201" and ticket is None:
                ticket = r.json()["ticketId"]


def with_store_stopped(store):
    box.stack("stop", store)
    try:
        for key in PROBES:
            if PROBES[key][0] == store:
                probe(key, NGINX, 0, None)
    finally:
        box.stack("start", store)
        for path in ("/get/health", "/tickets/health"):
            box.wait_until(lambda: box.http("GET", path).status == 200, timeout=60,
                           what="%s after restarting %s" % (path, store))


def sale_catalog(opens, closed):
    doc = catalog.with_event("Event3", onSale=[{"fromZone": 1, "toZone": 1, "opensAt": catalog.stamp(opens)}])
    catalog.event(doc, "Event1")["closesAt"] = catalog.stamp(closed)
    doc["events"].append({"eventId": "EventOff", "venueId": "Venue2", "name": "Called Off",
                          "type": "CONCERT", "date": "2027-05-01T20:00:00Z", "status": "CANCELLED"})
    return doc


def test_sale_answers_as_documented():
    """The 403s and 410s of the purchase endpoints, through every web
    server, with a catalog of sale windows and a cancelled event; the
    queries show the fields of those windows as documented."""
    now = catalog.redis_now().replace(microsecond=0)
    opens = now + timedelta(hours=1)
    catalog.apply_ok(sale_catalog(opens, now - timedelta(hours=1)), "the sale catalog")
    try:
        for i, port in enumerate(WEB_PORTS):
            for key in PROBES:
                if PROBES[key][0] != "catalog":
                    continue
                r = probe(key, port, i, None)
                if key[3] == "NOT_ON_SALE":
                    eq(r.json()["opensAt"], catalog.stamp(opens), "opensAt")
                    ra = int(r.header("Retry-After") or -1)
                    check(0 < ra <= 3600, "Retry-After %d" % ra)
        for url, key in (("/get/events/Event3", "/get/events/{eventId}"),
                         ("/get/events/Event3/zones/1/seats", "/get/events/{eventId}/zones/{zoneId}/seats"),
                         ("/get/venues/Venue2/events", "/get/venues/{venueId}/events")):
            r = box.http("GET", url)
            eq(r.status, 200, url)
            schema = documented()[(key, "get", "200")]["content"]["application/json"]["schema"]
            errs = list(validator(schema).iter_errors(r.json()))
            check(not errs, "%s: %s does not match the schema: %s" % (url, r.body[:200], errs[:1]))
        eq({e["eventId"]: e["status"] for e in r.json()}["EventOff"], "CANCELLED", "EventOff listed")
        zone1 = box.http("GET", "/get/events/Event3").json()["zones"][0]
        eq((zone1["opensAt"], zone1["onSale"]), (catalog.stamp(opens), False), "zone 1 of Event3")
        eq(box.http("GET", "/get/events/Event1").json()["closesAt"], catalog.stamp(now - timedelta(hours=1)),
           "closesAt of Event1")
    finally:
        catalog.apply_ok(catalog.seed(), "the seed again")


def test_unavailable_answers_as_documented():
    with_store_stopped("redis")
    with_store_stopped("mysql")


if __name__ == "__main__":
    raise SystemExit(box.main(globals()))
