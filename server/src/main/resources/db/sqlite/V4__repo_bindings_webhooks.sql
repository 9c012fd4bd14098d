-- Bound repositories and GitHub webhooks (issue 5). projects.repo_url and repo_branch (V2) hold
-- what the API shows; this table holds what only the server may read.
CREATE TABLE repo_bindings (
    project_id        TEXT PRIMARY KEY REFERENCES projects (id) ON DELETE CASCADE,
    -- Where to fetch from, with the URL's credentials when it had any: never shown or logged.
    fetch_url         TEXT NOT NULL,
    -- 'github' (tarball API) or 'git' (fetched with git).
    kind              TEXT NOT NULL CHECK (kind IN ('github', 'git')),
    -- What a webhook's repository must match: lower-case 'owner/repo' for GitHub, 'host/path' for git.
    repo_key          TEXT NOT NULL,
    -- Kept as is (not hashed): verifying X-Hub-Signature-256 needs the secret itself.
    webhook_secret    TEXT NOT NULL,
    created_at        BIGINT NOT NULL,
    secret_rotated_at BIGINT NOT NULL
);
CREATE INDEX repo_bindings_repo ON repo_bindings (repo_key);

-- Each X-GitHub-Delivery is processed once: a redelivery finds its row and queues nothing.
CREATE TABLE webhook_deliveries (
    delivery_id TEXT PRIMARY KEY,
    project_id  TEXT NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    event       TEXT NOT NULL,
    outcome     TEXT NOT NULL,
    deploy_id   TEXT,
    received_at BIGINT NOT NULL
);
CREATE INDEX webhook_deliveries_project ON webhook_deliveries (project_id, received_at);
