-- SPDX-License-Identifier: ISC
-- Rebuilds the sales summary zone_sales (sql/migrations/003_zone_sales.sql)
-- from a full count of the live tickets, when `ticketctl check` reports a
-- difference between them.  Run with the database administrator's account
-- (the application accounts may not write zone_sales):
--     scripts/stack sql < sql/zone_sales_repair.sql       (test stack)
--     mariadb ticketing < /usr/local/share/boxoffice/sql/zone_sales_repair.sql
-- Ticket writes wait for it (the consumer retries; a few seconds at a
-- million tickets).  Safe to run at any time, and again.
LOCK TABLES ticket READ, zone_sales WRITE;
DELETE FROM zone_sales;
INSERT INTO zone_sales (event_id, zone_id, sold, revenue)
  SELECT event_id, zone_id, COUNT(*), SUM(price) FROM ticket
  WHERE live_seat = 1 GROUP BY event_id, zone_id;
UNLOCK TABLES;
