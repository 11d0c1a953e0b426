-- SPDX-License-Identifier: ISC
-- 001: the operator's catalog (docs/api.md): event status and closesAt,
-- sale windows per zone range.  For databases created by a schema.sql
-- older than these columns; idempotent (scripts/stack runs every
-- migration on each `make up`, in file name order, after schema.sql).
ALTER TABLE event
  ADD COLUMN IF NOT EXISTS status VARCHAR(16) NOT NULL DEFAULT 'SCHEDULED',
  ADD COLUMN IF NOT EXISTS closes_at DATETIME(3) NULL;

CREATE TABLE IF NOT EXISTS event_onsale (
  event_id   VARCHAR(64)  NOT NULL,
  from_zone  INT UNSIGNED NOT NULL,
  to_zone    INT UNSIGNED NOT NULL,
  opens_at   DATETIME(3)  NOT NULL,
  PRIMARY KEY (event_id, from_zone),
  CONSTRAINT onsale_event FOREIGN KEY (event_id) REFERENCES event (event_id)
    ON DELETE CASCADE
) ENGINE=InnoDB;
