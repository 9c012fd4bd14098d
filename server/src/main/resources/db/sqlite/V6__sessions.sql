-- Sessions (SPEC §6): conversations pinned at creation to the release active then, and the turns
-- run in them (kept without their text, for the log and usage counters). Times are epoch ms.
CREATE TABLE sessions (
    id                 TEXT PRIMARY KEY,
    project_id         TEXT NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    release_id         TEXT NOT NULL REFERENCES releases (id) ON DELETE CASCADE,
    -- 'running' is only ever entered by a conditional UPDATE from 'idle': one turn at a time per
    -- session, on every server sharing this database.
    status             TEXT NOT NULL CHECK (status IN ('idle', 'running', 'ended')),
    metadata           TEXT NOT NULL,
    turns              INTEGER NOT NULL DEFAULT 0,
    -- The harness's own conversation id (Claude Code session_id, OpenCode sessionID), for resuming.
    harness_session_id TEXT,
    -- The running turn and the time after which it is taken as interrupted (its server died).
    turn_id            TEXT,
    turn_deadline      BIGINT,
    created_at         BIGINT NOT NULL,
    updated_at         BIGINT NOT NULL,
    ended_at           BIGINT,
    end_reason         TEXT
);
CREATE INDEX sessions_project ON sessions (project_id, created_at);
CREATE INDEX sessions_live ON sessions (status, updated_at);

CREATE TABLE session_turns (
    id          TEXT PRIMARY KEY,
    session_id  TEXT NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    project_id  TEXT NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    status      TEXT NOT NULL CHECK (status IN ('running', 'completed', 'failed', 'timed_out')),
    error       TEXT,
    started_at  BIGINT NOT NULL,
    finished_at BIGINT
);
CREATE INDEX session_turns_project ON session_turns (project_id, started_at);
