-- SPDX-License-Identifier: ISC
-- 006: an order keeps the HMAC of the Idempotency-Key it was bought with,
-- no longer the key, and the SHA-256 of the hold it confirmed (CONTRACT
-- section 7; docs/reliability.md, "After a Redis loss").  Idempotent
-- (scripts/stack runs every migration on each `make up`, in file name
-- order, after schema.sql).
--
-- idem_key_hash  HMAC-SHA256(token_secret, "idem:" key), 64 lowercase hex
--                (fcgi/ticket/token.h); NULL: bought without a key, or
--                before this migration
-- hold_hash      SHA-256 (64 lowercase hex) of the holdId of the hold
--                whose confirm made the order; NULL: not a confirm, or
--                before this migration
-- idem_key       (005) always NULL from here on; kept so that a consumer
--                older than this one, which still writes it, keeps
--                working until it is restarted: the trigger below keeps
--                none of what it writes of a key
--
-- A key with the body of its request is as good as the order's cancel
-- token (a keyed replay answers the token), and a reader of `orders`
-- could rebuild many a body: MySQL keeps the key's HMAC, keyed with the
-- responders' secret so that guessable keys cannot be tried against it.
-- `ticketctl rebuild` needs only that: it puts a sale's record back under
-- bo:idem:{E:Z}:#<HMAC>, which lua/order.lua reads before the record
-- under the key.  A holdId is such a secret too (whoever has it may
-- confirm, and a confirm again answers the order with its cancel token):
-- rebuild puts a confirmed hold back under the SHA-256 of its id (128
-- random bits: nothing to guess), bo:hix:{st}#<hash> and "#<hash>" in
-- bo:holds:{E:Z}, which a confirm looks up when its id is not found.
--
-- The keys 005 kept cannot become their HMAC here (the secret is not the
-- database's): they are dropped, with their request hash and kind.  What
-- is lost is a rebuild's record of an order bought while 005 was the
-- newest, within its 24 h (a retry of it after a Redis loss is a new
-- request, as before 005).  The trigger comes first, so that no key an
-- older consumer writes meanwhile slips past the UPDATE.  The UPDATE
-- reads every order on each run (no index on idem_key); it changes rows
-- only the first time.
ALTER TABLE orders
  ADD COLUMN IF NOT EXISTS idem_key_hash CHAR(64) NULL AFTER idem_key,
  ADD COLUMN IF NOT EXISTS hold_hash     CHAR(64) NULL;

DELIMITER //

CREATE OR REPLACE TRIGGER orders_idem_key_dropped BEFORE INSERT ON orders
FOR EACH ROW
IF NEW.idem_key IS NOT NULL THEN
  SET NEW.idem_key = NULL, NEW.idem_hash = NULL, NEW.idem_kind = NULL;
END IF//

DELIMITER ;

-- a trigger of an unreleased draft of this migration (2026-12-06)
DROP TRIGGER IF EXISTS orders_idem_key_hash;
-- and a column of a draft of 005 (2026-12-06, reverted), which kept a
-- confirm's holdId: whoever has a holdId may confirm it
ALTER TABLE orders DROP COLUMN IF EXISTS hold_id;

UPDATE orders SET idem_key = NULL, idem_hash = NULL, idem_kind = NULL
  WHERE idem_key IS NOT NULL;
