-- The provider's handle at rest: from now on `flows.auth_req_id` and `flows.link` hold values
-- sealed under the BFF's key (src/sealed.rs), and a flow is found by a keyed hash of the handle.
-- Rows kept before this have no hash; the next start seals them. The approval page's sessions
-- keep the hash too (as hex) in `customer_sessions.auth_req_id`.
ALTER TABLE flows ADD COLUMN auth_req_id_hash BLOB;
CREATE UNIQUE INDEX flows_auth_req_id_hash ON flows (auth_req_id_hash);
-- Approval sessions (ten minutes long at the most) kept the handle itself until now: they end
-- here, and a customer who was on the page starts again with a new code.
DELETE FROM customer_sessions;
