-- Releases, deploys (the persistent build queue), project logs and idempotent replays.
CREATE TABLE releases (
    id             TEXT PRIMARY KEY,
    project_id     TEXT NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    number         INTEGER NOT NULL CHECK (number > 0),
    commit_sha     TEXT NOT NULL,
    harness        TEXT NOT NULL,
    build_kind     TEXT NOT NULL,
    image_ref      TEXT NOT NULL,
    content_digest TEXT NOT NULL,
    source         TEXT NOT NULL,
    deploy_id      TEXT NOT NULL,
    created_at     BIGINT NOT NULL,
    activated_at   BIGINT,
    -- Versions are allocated max + 1 inside the activating transaction; this makes a duplicate
    -- impossible even when two servers activate at once.
    UNIQUE (project_id, number)
);

-- The pointer flip: a project serves exactly the release this column names.
ALTER TABLE projects ADD COLUMN current_release_id TEXT REFERENCES releases (id);
ALTER TABLE projects ADD COLUMN repo_url TEXT;
ALTER TABLE projects ADD COLUMN repo_branch TEXT;

CREATE TABLE deploys (
    id             TEXT PRIMARY KEY,
    project_id     TEXT NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    seq            BIGINT NOT NULL,
    commit_sha     TEXT NOT NULL,
    source         TEXT NOT NULL CHECK (source IN ('git_push', 'deploy', 'webhook', 'upload')),
    status         TEXT NOT NULL CHECK (status IN ('queued', 'building', 'succeeded', 'failed', 'superseded', 'canceled')),
    artifact       TEXT,
    content_digest TEXT,
    actor_key_id   TEXT,
    release_number INTEGER,
    error          TEXT,
    attempts       INTEGER NOT NULL DEFAULT 0,
    lease_until    BIGINT,
    created_at     BIGINT NOT NULL,
    started_at     BIGINT,
    finished_at    BIGINT,
    UNIQUE (project_id, seq)
);
-- One build per project at a time, across every server sharing this database.
CREATE UNIQUE INDEX deploys_one_building_per_project ON deploys (project_id) WHERE status = 'building';
CREATE INDEX deploys_by_status ON deploys (status, created_at);

CREATE TABLE log_entries (
    id         BIGSERIAL PRIMARY KEY,
    project_id TEXT NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    time       BIGINT NOT NULL,
    source     TEXT NOT NULL CHECK (source IN ('build', 'release', 'session', 'system')),
    deploy_id  TEXT,
    release    TEXT,
    message    TEXT NOT NULL
);
CREATE INDEX log_entries_project ON log_entries (project_id, id);
CREATE INDEX log_entries_deploy ON log_entries (deploy_id, id);

CREATE TABLE idempotency_keys (
    org_id      TEXT NOT NULL,
    idem_key    TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    status      INTEGER,
    body        TEXT,
    created_at  BIGINT NOT NULL,
    PRIMARY KEY (org_id, idem_key)
);
