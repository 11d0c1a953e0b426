# SPDX-License-Identifier: ISC
"""Fault scenarios: the persistence side under load (contended seats, both
web servers), each ending with the history check (tests/lib/history.py).

- MariaDB stopped and started while clients buy: sales go on (the purchase
  path does not touch MySQL), the consumer's MySQL pipeline backs off and
  catches up, nothing is lost or doubled;
- DynamoDB Local stopped and started: the same for the DynamoDB pipeline.

tests/faults/test_consumer_faults.py covers the consumer's side of
these outages with one buyer per seat; here the buyers contend, and the
check covers Redis and both stores together.
"""

import time

import box
import scenario as sc

S = sc.Scenarios("databases")


def setup_module():
    box.stack("reset")


def outage(service, seconds):
    def fault():
        box.stack("stop", service)
        try:
            time.sleep(seconds)
        finally:
            box.stack("start", service)
    return fault


def test_mariadb_stopped_and_started():
    S.run("MariaDB stopped and started", sc.pool(31, 32),
          outage("mysql", 12 if sc.FULL else 5))


def test_dynamodb_stopped_and_started():
    S.run("DynamoDB Local stopped and started", sc.pool(33, 34),
          outage("dynamodb", 12 if sc.FULL else 5))


if __name__ == "__main__":
    raise SystemExit(box.main(globals()))
