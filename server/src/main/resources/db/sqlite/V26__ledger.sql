-- The tamper-evident ledger: every audit event is chained to the previous event of its org, every
-- release to the previous release of its project. hash is sha256 over the row's canonical JSON,
-- which includes prev_hash; the first row of a chain has the genesis value as prev_hash (not
-- null, so the unique indexes below hold for it too). Rows from before this migration are chained
-- once at start-up, in id (number) order. See docs/audit.md.
ALTER TABLE audit_events ADD COLUMN prev_hash TEXT;
ALTER TABLE audit_events ADD COLUMN hash TEXT;
-- project.delete only: the hash of the deleted project's last release, which anchors that release
-- chain (cascade-deleted with the project) in the org's chain.
ALTER TABLE audit_events ADD COLUMN release_hash TEXT;
-- No fork: two events of one org cannot follow the same event.
CREATE UNIQUE INDEX audit_events_chain ON audit_events (org_id, prev_hash);
-- Rows still to be chained (written before this migration): found at start-up without a scan.
CREATE INDEX audit_events_unsealed ON audit_events (org_id) WHERE hash IS NULL;

-- What made a release (git_push, deploy, upload, webhook:<delivery id>, config, ...), who, and the
-- Idempotency-Key of the request that created its deploy.
ALTER TABLE deploys ADD COLUMN triggered_by TEXT;
ALTER TABLE deploys ADD COLUMN idempotency_key TEXT;
ALTER TABLE releases ADD COLUMN triggered_by TEXT;
ALTER TABLE releases ADD COLUMN actor_key_id TEXT;
ALTER TABLE releases ADD COLUMN idempotency_key TEXT;
ALTER TABLE releases ADD COLUMN prev_hash TEXT;
ALTER TABLE releases ADD COLUMN hash TEXT;
CREATE UNIQUE INDEX releases_chain ON releases (project_id, prev_hash);
CREATE INDEX releases_unsealed ON releases (project_id) WHERE hash IS NULL;

-- Audit events stay append-only, with one exception: sealing an event written before the ledger
-- existed, which sets its null prev_hash and hash once and changes nothing else.
DROP TRIGGER audit_events_append_only_update;
CREATE TRIGGER audit_events_append_only_update BEFORE UPDATE ON audit_events
WHEN NOT (OLD.hash IS NULL AND OLD.prev_hash IS NULL AND NEW.hash IS NOT NULL AND NEW.prev_hash IS NOT NULL
          AND NEW.id IS OLD.id AND NEW.org_id IS OLD.org_id AND NEW.actor_key_id IS OLD.actor_key_id
          AND NEW.action IS OLD.action AND NEW.resource IS OLD.resource AND NEW.created_at IS OLD.created_at
          AND NEW.request_id IS OLD.request_id AND NEW.remote_ip IS OLD.remote_ip
          AND NEW.release_hash IS OLD.release_hash)
BEGIN
    SELECT RAISE(ABORT, 'audit events are append-only');
END;
