-- SPDX-License-Identifier: ISC
-- boxoffice: MySQL / MariaDB schema and seed catalog (docs/api.md, docs/consumer.md).
-- Loaded by `make up` (scripts/stack) into database `ticketing`; safe to run
-- again: tables are created if missing and the catalog rows are upserted,
-- sold tickets are never touched.

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

-- Covering index of the query responder's reports (sold and revenue per
-- event and zone, GET /get/events/{id}/stats and /get/money): the sums are
-- read from the index alone, not from one row lookup per ticket.  Separate
-- statement so that databases created before it get it too.
CREATE INDEX IF NOT EXISTS ticket_revenue ON ticket (event_id, zone_id, price);

-- Seed catalog --------------------------------------------------------------

INSERT INTO venue (venue_id, name) VALUES
  ('Venue1', 'Grand Arena'),
  ('Venue2', 'Riverside Hall')
ON DUPLICATE KEY UPDATE name = VALUES(name);

-- Venue1: zones 1..100, 26 rows x 30 columns; price by zone band.
INSERT INTO zone (venue_id, zone_id, price, row_count, col_count)
WITH RECURSIVE n (z) AS (SELECT 1 UNION ALL SELECT z + 1 FROM n WHERE z < 100)
SELECT 'Venue1', z,
       CASE WHEN z <= 20 THEN 320 WHEN z <= 40 THEN 160 WHEN z <= 60 THEN 80
            WHEN z <= 80 THEN 40 ELSE 20 END,
       26, 30
FROM n
ON DUPLICATE KEY UPDATE price = VALUES(price), row_count = VALUES(row_count),
                        col_count = VALUES(col_count);

-- Venue2: a smaller hall, zones of different shapes (zone 3 is one row).
INSERT INTO zone (venue_id, zone_id, price, row_count, col_count) VALUES
  ('Venue2', 1, 150.00, 10, 20),
  ('Venue2', 2,  95.50,  5, 12),
  ('Venue2', 3, 250.00,  1,  8),
  ('Venue2', 4,  45.00,  3,  4)
ON DUPLICATE KEY UPDATE price = VALUES(price), row_count = VALUES(row_count),
                        col_count = VALUES(col_count);

INSERT INTO event (event_id, venue_id, name, type, event_date) VALUES
  ('Event1', 'Venue1', 'Opening Night', 'CONCERT', '2027-03-14 20:00:00'),
  ('Event2', 'Venue2', 'Chamber Evening', 'CONCERT', '2027-04-02 19:30:00'),
  ('Event3', 'Venue2', 'Stand-up Matinee', 'COMEDY', '2027-04-03 15:00:00')
ON DUPLICATE KEY UPDATE venue_id = VALUES(venue_id), name = VALUES(name),
                        type = VALUES(type), event_date = VALUES(event_date);
