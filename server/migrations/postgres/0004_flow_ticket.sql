-- The ticket or call id of a verification, as migrations/sqlite/0010_flow_ticket.sql.
ALTER TABLE flows ADD COLUMN ticket TEXT;
