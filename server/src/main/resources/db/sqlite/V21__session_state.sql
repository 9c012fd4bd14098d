-- The harness state of a session (its HOME, as a gzip-compressed tar), saved after every turn so
-- that the next turn can resume it on any server, whatever its local workspaces hold. digest is
-- the sha256 (hex) of data: a server whose local copy carries another digest restores this one.
CREATE TABLE session_state (
    session_id TEXT PRIMARY KEY REFERENCES sessions (id) ON DELETE CASCADE,
    digest     TEXT NOT NULL,
    bytes      BIGINT NOT NULL,
    data       BLOB NOT NULL,
    saved_at   BIGINT NOT NULL
);
