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

-- The back-fill and the triggers under one lock, so that no ticket written
-- meanwhile is missed or counted twice.  The back-fill runs on an empty
-- summary (a new one), and from scratch whenever one of the triggers is
-- missing: a run that failed after its back-fill and before its last
-- trigger (no TRIGGER privilege, binary logging without SUPER, a killed
-- client) left a summary that missed the writes made since, and the run
-- after it mends that.  Once the triggers are all there, they keep it.
-- The clear and the fill commit together, before the first trigger.
SET autocommit = 0;
LOCK TABLES ticket WRITE, zone_sales WRITE;

SET @zs_redo = (SELECT COUNT(*) FROM zone_sales) = 0 OR
  (SELECT COUNT(*) FROM information_schema.TRIGGERS
   WHERE TRIGGER_SCHEMA = DATABASE() AND EVENT_OBJECT_TABLE = 'ticket' AND
   TRIGGER_NAME IN ('ticket_sales_ins', 'ticket_sales_upd',
                    'ticket_sales_del')) < 3;
SET @zs_clear = IF(@zs_redo, 'DELETE FROM zone_sales', 'DO 0');
PREPARE zs_clear FROM @zs_clear;
EXECUTE zs_clear;
DEALLOCATE PREPARE zs_clear;
SET @zs_fill = IF(@zs_redo,
  'INSERT INTO zone_sales (event_id, zone_id, sold, revenue)
   SELECT event_id, zone_id, COUNT(*), SUM(price) FROM ticket
   WHERE live_seat = 1 GROUP BY event_id, zone_id',
  'DO 0');
PREPARE zs_fill FROM @zs_fill;
EXECUTE zs_fill;
DEALLOCATE PREPARE zs_fill;
COMMIT;

-- The upsert is written out in each trigger: a CALL of one procedure
-- holding it cost about 40 us more CPU of mysqld per ticket.
DELIMITER //

CREATE OR REPLACE TRIGGER ticket_sales_ins AFTER INSERT ON ticket
FOR EACH ROW
IF NEW.status <> 'CANCELLED' THEN
  INSERT INTO zone_sales VALUES (NEW.event_id, NEW.zone_id, 1, NEW.price)
    ON DUPLICATE KEY UPDATE sold = sold + 1, revenue = revenue + NEW.price;
END IF//

-- the old row out, the new one in (net nothing if both are the same)
CREATE OR REPLACE TRIGGER ticket_sales_upd AFTER UPDATE ON ticket
FOR EACH ROW
BEGIN
  IF OLD.status <> 'CANCELLED' THEN
    INSERT INTO zone_sales VALUES (OLD.event_id, OLD.zone_id, -1, -OLD.price)
      ON DUPLICATE KEY UPDATE sold = sold - 1, revenue = revenue - OLD.price;
  END IF;
  IF NEW.status <> 'CANCELLED' THEN
    INSERT INTO zone_sales VALUES (NEW.event_id, NEW.zone_id, 1, NEW.price)
      ON DUPLICATE KEY UPDATE sold = sold + 1, revenue = revenue + NEW.price;
  END IF;
END//

CREATE OR REPLACE TRIGGER ticket_sales_del AFTER DELETE ON ticket
FOR EACH ROW
IF OLD.status <> 'CANCELLED' THEN
  INSERT INTO zone_sales VALUES (OLD.event_id, OLD.zone_id, -1, -OLD.price)
    ON DUPLICATE KEY UPDATE sold = sold - 1, revenue = revenue - OLD.price;
END IF//

DELIMITER ;

UNLOCK TABLES;
SET autocommit = 1;

-- an earlier version of this migration (2026-12-02) kept the upsert in a
-- procedure, with its definer's rights over zone_sales
DROP PROCEDURE IF EXISTS zone_sales_add;
