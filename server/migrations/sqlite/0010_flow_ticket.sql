-- The help desk's ticket or call id an agent may give a verification (`proto::check_ticket`):
-- shown on the card and in the history, and exported with the audit log. NULL when none.
ALTER TABLE flows ADD COLUMN ticket TEXT;
