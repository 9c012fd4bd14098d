-- A rollback pins the project to the release it rolled back to: later builds still create releases,
-- but the pointer stays until an admin activates a release or unpins. While a pin is set it names
-- the release current_release_id names; pinned_by is the key that pinned (null for none).
ALTER TABLE projects ADD COLUMN pinned_release_id TEXT REFERENCES releases (id);
ALTER TABLE projects ADD COLUMN pinned_by TEXT;
ALTER TABLE projects ADD COLUMN pinned_at BIGINT;

-- activated_at is the last time the release became active (null: never, a release built while
-- pinned); deactivated_at the last time it stopped being active (null while active, or never
-- active). Releases made before this migration were all activated when created; when they stopped
-- being active is not known.
ALTER TABLE releases ADD COLUMN deactivated_at BIGINT;
