# SPDX-License-Identifier: ISC
"""Helpers of the catalog tests: the seed document (conf/catalog.json),
applying a document with ticketctl, and putting the seed back."""

import copy
import json
import os
import subprocess
import tempfile
from datetime import datetime, timezone

import box

SEED_PATH = os.path.join(box.ROOT, "conf", "catalog.json")


def seed():
    with open(SEED_PATH) as f:
        return json.load(f)


def ctl(*args):
    return box.ticketctl(*args, check_rc=False)


def apply(doc, *extra):
    """Applies a document (dict); returns the CompletedProcess."""
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        json.dump(doc, f)
        path = f.name
    try:
        return ctl("catalog", "apply", path, *extra)
    finally:
        os.unlink(path)


def apply_ok(doc, what="apply"):
    r = apply(doc)
    box.eq(r.returncode, 0, "%s: exit status (stdout %r, stderr %r)" % (what, r.stdout, r.stderr))
    return r


def show():
    r = ctl("catalog", "show")
    box.eq(r.returncode, 0, "catalog show: " + r.stderr)
    return json.loads(r.stdout)


def venue(doc, vid):
    return next(v for v in doc["venues"] if v["venueId"] == vid)


def zone(doc, vid, zid):
    return next(z for z in venue(doc, vid)["zones"] if z["zoneId"] == zid)


def event(doc, eid):
    return next(e for e in doc["events"] if e["eventId"] == eid)


def with_event(eid, **fields):
    """The seed document with fields of event eid changed."""
    doc = seed()
    event(doc, eid).update(fields)
    return doc


def redis_now():
    """The clock the sale windows are checked on (Redis TIME), UTC."""
    s, us = box.redis("TIME")
    return datetime.fromtimestamp(int(s) + int(us) / 1e6, tz=timezone.utc)


def stamp(t):
    """RFC 3339 UTC to the second, as the catalog writes times."""
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def restore():
    """Forgets every sale and puts the seed catalog back (for the suites
    that run after this one)."""
    box.stack("reset")
    r = ctl("catalog", "apply", SEED_PATH)
    if r.returncode != 0:
        raise box.Fail("restoring the seed catalog: %s%s" % (r.stdout, r.stderr))
    box.stack("reset")


def normal(doc):
    """A document in comparable form: lists sorted, defaults filled, prices
    and times as the parser reads them."""
    d = copy.deepcopy(doc)
    for v in d["venues"]:
        v["zones"].sort(key=lambda z: z["zoneId"])
        for z in v["zones"]:
            z["price"] = round(float(z["price"]), 2)
    d["venues"].sort(key=lambda v: v["venueId"])
    for e in d["events"]:
        e.setdefault("status", "SCHEDULED")
        e.setdefault("onSale", [])
        e["onSale"].sort(key=lambda w: w["fromZone"])
    d["events"].sort(key=lambda e: e["eventId"])
    return d


def sql_admin_session():
    """An interactive admin MariaDB session (stdin kept open)."""
    return subprocess.Popen([os.path.join(box.ROOT, "scripts", "stack"), "sql", "-N", "-B", "--unbuffered"],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
