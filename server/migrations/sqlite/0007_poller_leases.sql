-- One poller per live flow across every instance: the instance that polls a flow holds a lease
-- on it (`lease_owner` until `lease_until`, ms); `lease_epoch` grows with every claim, and
-- each claim bumps `version`, so a former owner's writes lose their compare-and-set. A flow
-- whose lease ended (its owner stopped or died) is claimed by the next instance that looks.
ALTER TABLE flows ADD COLUMN lease_owner TEXT;
ALTER TABLE flows ADD COLUMN lease_until INTEGER NOT NULL DEFAULT 0;
ALTER TABLE flows ADD COLUMN lease_epoch INTEGER NOT NULL DEFAULT 0;
CREATE INDEX flows_unleased ON flows (lease_until) WHERE status IN ('starting', 'pending');
