-- Web dashboard sign-ins (docs/dashboard.md): an API key exchanged once for a session cookie. Only
-- the SHA-256 of the cookie's token is stored, so a copy of the database signs no one in. Each
-- request checks the row's expiry and the key behind it (revoked or expired keys end their
-- sessions at once); csrf_token guards the dashboard's forms. Gone with the key.
CREATE TABLE dashboard_sessions (
    token_hash TEXT PRIMARY KEY,
    key_id     TEXT NOT NULL REFERENCES api_keys (id) ON DELETE CASCADE,
    csrf_token TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX dashboard_sessions_expiry ON dashboard_sessions (expires_at);
CREATE INDEX dashboard_sessions_key ON dashboard_sessions (key_id);
