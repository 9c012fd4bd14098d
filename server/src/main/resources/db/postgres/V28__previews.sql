-- Preview releases: a small release line per project and pull request (pr-42: pr-42.1, pr-42.2, …)
-- kept apart from the production releases, their numbers and their hash chain. A preview never
-- moves the project pointer; its own current_release_id moves on each successful preview build.
-- Times are epoch ms.
CREATE TABLE previews (
    id                 TEXT PRIMARY KEY,
    project_id         TEXT NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    -- pr-{number}; one preview per project and pull request, reopened in place.
    name               TEXT NOT NULL,
    pr_number          INTEGER NOT NULL CHECK (pr_number > 0),
    -- the commit of the latest push (what is building, or what the current release runs)
    commit_sha         TEXT NOT NULL,
    -- a preview_releases id; no foreign key, so that the two tables do not name each other
    current_release_id TEXT,
    -- github (a pull_request webhook) or api (POST …/previews)
    origin             TEXT NOT NULL,
    created_at         BIGINT NOT NULL,
    last_push_at       BIGINT NOT NULL,
    expires_at         BIGINT NOT NULL,
    -- set once the preview has expired (closed, past its TTL, over the cap, deleted); a new push
    -- reopens it and clears it
    expired_at         BIGINT,
    expire_reason      TEXT,
    UNIQUE (project_id, name)
);
CREATE INDEX previews_live ON previews (expired_at, expires_at);

CREATE TABLE preview_releases (
    id             TEXT PRIMARY KEY,
    preview_id     TEXT NOT NULL REFERENCES previews (id) ON DELETE CASCADE,
    project_id     TEXT NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    -- pr-42.{seq}; allocated max + 1 per preview under the project lock
    seq            INTEGER NOT NULL CHECK (seq > 0),
    commit_sha     TEXT NOT NULL,
    harness        TEXT NOT NULL,
    build_kind     TEXT NOT NULL,
    image_ref      TEXT NOT NULL,
    content_digest TEXT NOT NULL,
    deploy_id      TEXT NOT NULL,
    -- the project config vars when the preview build finished (sealed like releases.config)
    config         TEXT,
    config_digest  TEXT,
    created_at     BIGINT NOT NULL,
    -- set when the preview expired: its tree no longer holds retention back
    released_at    BIGINT,
    UNIQUE (preview_id, seq)
);
CREATE INDEX preview_releases_digest ON preview_releases (content_digest);

-- A preview build is a deploy of the preview line: it joins the same queue, limits and logs;
-- it supersedes only older queued builds of the same preview (NULL: production).
ALTER TABLE deploys ADD COLUMN preview_id TEXT REFERENCES previews (id) ON DELETE CASCADE;

-- Pull requests from forks build untrusted code: only when the binding says so.
ALTER TABLE repo_bindings ADD COLUMN previews_from_forks INTEGER NOT NULL DEFAULT 0;

-- A session runs either a production release (release_id) or a preview release
-- (preview_release_id), never both.
ALTER TABLE sessions ALTER COLUMN release_id DROP NOT NULL;
ALTER TABLE sessions ADD COLUMN preview_release_id TEXT REFERENCES preview_releases (id) ON DELETE CASCADE;
ALTER TABLE sessions ADD CONSTRAINT sessions_one_release
    CHECK ((release_id IS NULL) <> (preview_release_id IS NULL));
