-- SPDX-License-Identifier: ISC
-- boxoffice: MySQL / MariaDB schema (docs/api.md, docs/consumer.md).
-- Loaded by `make up` (scripts/stack) into database `ticketing`; safe to run
-- again: tables are created if missing, nothing else is touched.  The
-- schema is this file followed by sql/migrations/*.sql in name order (each
-- idempotent; scripts/stack applies them after this file): so a database
-- created by an older version is brought up to date the same way as a new
-- one (event status, closesAt and sale windows come from 001_catalog.sql).
-- The catalog is data, not schema: conf/catalog.json is the seed catalog,
-- `ticketctl catalog apply` loads it (docs/deploy.md).

CREATE DATABASE IF NOT EXISTS ticketing CHARACTER SET utf8mb4 COLLATE utf8mb4_bin;
USE ticketing;

CREATE TABLE IF NOT EXISTS venue (
  venue_id   VARCHAR(64)  NOT NULL,
  name       VARCHAR(200) NOT NULL,
  PRIMARY KEY (venue_id)
) ENGINE=InnoDB;

CREATE TABLE IF NOT EXISTS zone (
  venue_id   VARCHAR(64)   NOT NULL,
  zone_id    INT UNSIGNED  NOT NULL,
  price      DECIMAL(10,2) NOT NULL,
  row_count  INT UNSIGNED  NOT NULL,
  col_count  INT UNSIGNED  NOT NULL,
  PRIMARY KEY (venue_id, zone_id),
  CONSTRAINT zone_venue FOREIGN KEY (venue_id) REFERENCES venue (venue_id),
  CONSTRAINT zone_shape CHECK (row_count BETWEEN 1 AND 10000 AND
                               col_count BETWEEN 1 AND 10000 AND
                               zone_id >= 1 AND price >= 0)
) ENGINE=InnoDB;

CREATE TABLE IF NOT EXISTS event (
  event_id   VARCHAR(64)  NOT NULL,
  venue_id   VARCHAR(64)  NOT NULL,
  name       VARCHAR(200) NOT NULL,
  type       VARCHAR(64)  NOT NULL,
  event_date DATETIME     NOT NULL,
  PRIMARY KEY (event_id),
  KEY event_by_venue (venue_id, event_date),
  CONSTRAINT event_venue FOREIGN KEY (venue_id) REFERENCES venue (venue_id)
) ENGINE=InnoDB;

-- The read model (TicketInfo).  One row per sold seat: the UNIQUE seat key
-- makes a double sale impossible to persist.
CREATE TABLE IF NOT EXISTS ticket (
  ticket_id  CHAR(36)      NOT NULL,
  venue_id   VARCHAR(64)   NOT NULL,
  event_id   VARCHAR(64)   NOT NULL,
  zone_id    INT UNSIGNED  NOT NULL,
  row_no     INT UNSIGNED  NOT NULL,
  col_no     INT UNSIGNED  NOT NULL,
  price      DECIMAL(10,2) NOT NULL,
  status     VARCHAR(16)   NOT NULL DEFAULT 'CREATED',
  created_on DATETIME(3)   NOT NULL,
  PRIMARY KEY (ticket_id),
  UNIQUE KEY ticket_seat (event_id, zone_id, row_no, col_no),
  KEY ticket_by_event (event_id, ticket_id)
) ENGINE=InnoDB;

-- (Reports and full counts read the covering index ticket_live_revenue of
-- migration 002 and the summary zone_sales of 003.  Databases created
-- before 004 had a ticket_revenue (event_id, zone_id, price) here, which
-- ticket_live_revenue made redundant: 004 drops it.)
