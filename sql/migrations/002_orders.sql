-- SPDX-License-Identifier: ISC
-- 002: orders and cancellation (docs/api.md, docs/consumer.md).  For
-- databases created before orders; idempotent (scripts/stack runs every
-- migration on each `make up`, in file name order, after schema.sql).
--
-- orders       one row per order (a purchase of 1-10 seats of one zone);
--              status CONFIRMED, or CANCELLED once all its tickets are.
-- ticket       gains order_id (NULL: a round-1 ticket bought before
--              orders) and cancelled_on; status CREATED or CANCELLED.
--              The seat key holds among live tickets only: live_seat is
--              1 for a live ticket and NULL for a cancelled one, and a
--              UNIQUE key treats NULLs as distinct, so a cancelled seat
--              can be sold again but never twice at once.
-- ticket_cancel every cancellation the consumer has seen, per ticket: a
--              cancellation consumed before its order is kept here and
--              applied when the order is written.
CREATE TABLE IF NOT EXISTS orders (
  order_id     CHAR(36)      NOT NULL,
  venue_id     VARCHAR(64)   NOT NULL,
  event_id     VARCHAR(64)   NOT NULL,
  zone_id      INT UNSIGNED  NOT NULL,
  total        DECIMAL(10,2) NOT NULL,
  status       VARCHAR(16)   NOT NULL DEFAULT 'CONFIRMED',
  cancel_hash  CHAR(64)      NOT NULL,
  created_on   DATETIME(3)   NOT NULL,
  cancelled_on DATETIME(3)   NULL,
  PRIMARY KEY (order_id),
  KEY orders_by_event (event_id, zone_id)
) ENGINE=InnoDB;

CREATE TABLE IF NOT EXISTS ticket_cancel (
  ticket_id    CHAR(36)    NOT NULL,
  order_id     CHAR(36)    NOT NULL,
  cancelled_on DATETIME(3) NOT NULL,
  PRIMARY KEY (ticket_id)
) ENGINE=InnoDB;

ALTER TABLE ticket
  ADD COLUMN IF NOT EXISTS order_id CHAR(36) NULL,
  ADD COLUMN IF NOT EXISTS cancelled_on DATETIME(3) NULL,
  ADD COLUMN IF NOT EXISTS live_seat TINYINT AS
    (IF(status = 'CANCELLED', NULL, 1)) PERSISTENT;

-- the round-1 seat key (all tickets) becomes the live-seat key; a second
-- run finds ticket_seat gone and ticket_live_seat there: nothing to do
ALTER TABLE ticket
  ADD UNIQUE KEY IF NOT EXISTS ticket_live_seat
    (event_id, zone_id, row_no, col_no, live_seat),
  DROP INDEX IF EXISTS ticket_seat;

CREATE INDEX IF NOT EXISTS ticket_by_order ON ticket (order_id);

-- the reports (stats, count, money) count live tickets only: this covers
-- them as ticket_revenue (schema.sql before 004) did before cancellation
CREATE INDEX IF NOT EXISTS ticket_live_revenue
  ON ticket (event_id, zone_id, live_seat, price);
