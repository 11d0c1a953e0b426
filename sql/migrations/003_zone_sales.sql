-- SPDX-License-Identifier: ISC
-- 003: per-zone sales summary (docs/reliability.md, "The sales summary").
-- Idempotent (scripts/stack runs every migration on each `make up`, in
-- file name order, after schema.sql).
--
-- zone_sales   one row per event and zone that ever had a ticket: live
--              (not cancelled) tickets and the sum of their prices.  The
--              query responder answers stats, count and money from it:
--              O(zones), not O(tickets).
--
-- Kept by triggers on ticket, so in the transaction of the statement that
-- inserts, cancels or deletes a ticket, and by exactly the rows that
-- statement changed: a redelivered duplicate the server refuses changes no
-- row, a cancellation applied twice changes the ticket once (its UPDATE
-- matches live tickets only), a ticket written cancelled (a cancellation
-- kept in ticket_cancel for later) never counts, a double sale refused by
-- the seat key changes nothing.  The triggers run with their definer's
-- rights: no application account may write zone_sales.
--
-- sold is signed: a summary that went wrong shows negative rather than
-- wrapping.  `ticketctl check` compares it with a full count;
-- sql/zone_sales_repair.sql rebuilds it.
CREATE TABLE IF NOT EXISTS zone_sales (
  event_id   VARCHAR(64)   NOT NULL,
  zone_id    INT UNSIGNED  NOT NULL,
  sold       BIGINT        NOT NULL DEFAULT 0,
  revenue    DECIMAL(20,2) NOT NULL DEFAULT 0,
  PRIMARY KEY (event_id, zone_id)
) ENGINE=InnoDB;

-- One change of a zone's sales (the triggers' only statement).
CREATE OR REPLACE PROCEDURE zone_sales_add(e VARCHAR(64), z INT UNSIGNED,
    n INT, amount DECIMAL(20,2))
  INSERT INTO zone_sales (event_id, zone_id, sold, revenue)
    VALUES (e, z, n, amount)
    ON DUPLICATE KEY UPDATE sold = sold + n, revenue = revenue + amount;

-- The back-fill and the triggers under one lock, so that no ticket written
-- meanwhile is missed or counted twice.  The back-fill runs only on an
-- empty summary (a new one): after that the triggers keep it.
LOCK TABLES ticket WRITE, zone_sales WRITE;

SET @zs_fill = IF((SELECT COUNT(*) FROM zone_sales) = 0,
  'INSERT INTO zone_sales (event_id, zone_id, sold, revenue)
   SELECT event_id, zone_id, COUNT(*), SUM(price) FROM ticket
   WHERE live_seat = 1 GROUP BY event_id, zone_id',
  'DO 0');
PREPARE zs_fill FROM @zs_fill;
EXECUTE zs_fill;
DEALLOCATE PREPARE zs_fill;

DELIMITER //

CREATE OR REPLACE TRIGGER ticket_sales_ins AFTER INSERT ON ticket
FOR EACH ROW
BEGIN
  IF NEW.status <> 'CANCELLED' THEN
    CALL zone_sales_add(NEW.event_id, NEW.zone_id, 1, NEW.price);
  END IF;
END//

-- the old row out, the new one in (net nothing if both are the same)
CREATE OR REPLACE TRIGGER ticket_sales_upd AFTER UPDATE ON ticket
FOR EACH ROW
BEGIN
  IF OLD.status <> 'CANCELLED' THEN
    CALL zone_sales_add(OLD.event_id, OLD.zone_id, -1, -OLD.price);
  END IF;
  IF NEW.status <> 'CANCELLED' THEN
    CALL zone_sales_add(NEW.event_id, NEW.zone_id, 1, NEW.price);
  END IF;
END//

CREATE OR REPLACE TRIGGER ticket_sales_del AFTER DELETE ON ticket
FOR EACH ROW
BEGIN
  IF OLD.status <> 'CANCELLED' THEN
    CALL zone_sales_add(OLD.event_id, OLD.zone_id, -1, -OLD.price);
  END IF;
END//

DELIMITER ;

UNLOCK TABLES;
