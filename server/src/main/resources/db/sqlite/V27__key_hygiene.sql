-- Key hygiene: an optional expiry, and an optional restriction to one project of the key's org.
-- project_id has no foreign key on purpose: nothing may ever turn a restricted key into an
-- org-wide one (ON DELETE SET NULL would). Deleting a project revokes its restricted keys in the
-- same transaction, and a key whose project is gone is restricted to nothing. project_name is the
-- name at creation, shown for such a key once its project is gone (names never change).
ALTER TABLE api_keys ADD COLUMN expires_at BIGINT;
ALTER TABLE api_keys ADD COLUMN project_id TEXT;
ALTER TABLE api_keys ADD COLUMN project_name TEXT;
CREATE INDEX api_keys_project ON api_keys (project_id);
