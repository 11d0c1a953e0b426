-- SPDX-License-Identifier: ISC
-- 005: an order keeps the Idempotency-Key of the request that bought it
-- (CONTRACT section 7; docs/reliability.md, "Idempotency keys").
-- Idempotent (scripts/stack runs every migration on each `make up`, in
-- file name order, after schema.sql).
--
-- idem_key   the key (1-64 of [A-Za-z0-9_-]); NULL: bought without one,
--            or before this migration
-- idem_hash  SHA-256 (hex) of the request as the responder hashed it
-- idem_kind  t POST /tickets, o POST /orders, c a hold's confirm
--
-- lua/order.lua records a keyed sale under the key in Redis for 24 h, so
-- that a retry answers it again and never buys a second time.  After a
-- Redis loss, `ticketctl rebuild` puts those records back from these
-- columns (for the orders of the last 24 h): without them a retried
-- best-available order bought a second set of seats.
--
-- Nullable columns without a default: InnoDB adds them in place
-- (ALGORITHM=INSTANT on MariaDB 10.3 and later), without copying the
-- table; the rows of orders bought before read NULL.
ALTER TABLE orders
  ADD COLUMN IF NOT EXISTS idem_key  VARCHAR(64) NULL,
  ADD COLUMN IF NOT EXISTS idem_hash CHAR(64)    NULL,
  ADD COLUMN IF NOT EXISTS idem_kind CHAR(1)     NULL;
