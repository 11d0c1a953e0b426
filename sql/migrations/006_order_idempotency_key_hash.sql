-- SPDX-License-Identifier: ISC
-- 006: an order keeps the SHA-256 of the Idempotency-Key it was bought
-- with, no longer the key (CONTRACT section 7; docs/reliability.md,
-- "After a Redis loss").  Idempotent (scripts/stack runs every migration
-- on each `make up`, in file name order, after schema.sql).
--
-- idem_key_hash  SHA-256 (64 lowercase hex) of the key; NULL: bought
--                without one, or before 005
-- idem_key       (005) always NULL from here on; kept so that a consumer
--                older than this one, which still writes it, keeps
--                working until it is restarted: the trigger below hashes
--                what it writes
--
-- A key with the body of its request is as good as the order's cancel
-- token (a keyed replay answers the token), and a reader of `orders`
-- could rebuild many a body.  `ticketctl rebuild` needs only the hash: it
-- puts a sale's record back under bo:idem:{E:Z}:#<hash>, which
-- lua/order.lua reads when the record under the key is absent.
--
-- The UPDATE reads every order on each run (no index on idem_key); it
-- changes rows only the first time: from then on the trigger hashes any
-- key written.
ALTER TABLE orders
  ADD COLUMN IF NOT EXISTS idem_key_hash CHAR(64) NULL AFTER idem_key;

UPDATE orders SET idem_key_hash = SHA2(idem_key, 256), idem_key = NULL
  WHERE idem_key IS NOT NULL;

DELIMITER //

CREATE OR REPLACE TRIGGER orders_idem_key_hash BEFORE INSERT ON orders
FOR EACH ROW
IF NEW.idem_key IS NOT NULL THEN
  SET NEW.idem_key_hash = SHA2(NEW.idem_key, 256), NEW.idem_key = NULL;
END IF//

DELIMITER ;
