# SPDX-License-Identifier: ISC
"""test_catalog_cluster.py - `ticketctl catalog apply` on a Redis Cluster.

Whether a zone is sold reads the zone's keys on its master; the mark of an
intact node (bo:intact) is a key of its own slot, and a cluster is never
intact (ctl/cmd_init.c, read_intact): the old code asked for it on the
zone's master and every apply failed with "more than 5 redirects".  On a
cluster a change to a zone is therefore allowed only when the broker holds
nothing that could be its sale (the in-flight rule: no consumer attached,
queues empty), the safe side of docs/reliability.md.
"""

import box
import catalog
from box import check, eq


def reshaped():
    doc = catalog.show()
    catalog.zone(doc, "Venue2", 3).update(rows=2, columns=9, price=260)
    return doc


def test_with_a_consumer_attached_a_change_is_refused_not_failed():
    r = catalog.apply(reshaped())
    eq(r.returncode, 1, "refused while a consumer may hold sales: %s%s" % (r.stdout, r.stderr))
    check("consumer(s) attached" in r.stderr and "redirects" not in r.stderr, r.stderr)


def test_with_the_consumer_stopped_an_unsold_zone_is_reshaped():
    box.stack("stop", "consumer")
    try:
        r = catalog.apply_ok(reshaped(), "reshape on the cluster")
        check("change zone Venue2/3: 1x8 at 250.00 -> 2x9 at 260.00" in r.stdout, r.stdout)
        st = box.zone_state("Event3", 3)
        eq((st["rows"], st["cols"], st["left"]), (2, 9, 18), "Redis of Event3/3")
        catalog.apply_ok(catalog.seed(), "the seed catalog back")
        eq(box.zone_state("Event3", 3)["cols"], 8, "Event3/3 as seeded")
    finally:
        box.stack("start", "consumer")
    b = box.buy("Venue2", "Event3", 3, 1, 8)
    eq(b.status, 201, "the restored zone sells (%s)" % b.body)


if __name__ == "__main__":
    box.main(globals())
