-- Git repositories in database storage (JGit's DFS layer). A repository is a row whose pack list
-- is the set of its git_packs rows not yet dropped; every pack file (pack, idx, bitmap, reftable,
-- ...) is written once as numbered chunks and never changed. generation counts the commits of the
-- pack list; a commit locks the row, checks what it replaces is still listed (and, for a ref
-- update, that the reftables are those it read), then bumps it. compact_holder/compact_until is
-- the lease of the one replica compacting the repository.
CREATE TABLE git_repositories (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    project_id     TEXT NOT NULL,
    name           TEXT NOT NULL,
    generation     BIGINT NOT NULL DEFAULT 0,
    compact_holder TEXT,
    compact_until  BIGINT,
    created_at     BIGINT NOT NULL,
    UNIQUE (project_id, name)
);

-- One file of a pack, before and after its pack is committed; size is -1 while it is written.
CREATE TABLE git_pack_files (
    repository_id BIGINT NOT NULL REFERENCES git_repositories (id) ON DELETE CASCADE,
    pack_name     TEXT NOT NULL,
    ext           TEXT NOT NULL,
    size          BIGINT NOT NULL,
    created_at    BIGINT NOT NULL,
    PRIMARY KEY (repository_id, pack_name, ext)
);

CREATE TABLE git_pack_chunks (
    repository_id BIGINT NOT NULL REFERENCES git_repositories (id) ON DELETE CASCADE,
    pack_name     TEXT NOT NULL,
    ext           TEXT NOT NULL,
    seq           INTEGER NOT NULL,
    data          BLOB NOT NULL,
    PRIMARY KEY (repository_id, pack_name, ext, seq)
);

-- A committed pack; dropped_at is set when a compaction or a taken-back push removes it from the
-- list, and its files are deleted a grace period later (readers may still hold the old list).
CREATE TABLE git_packs (
    repository_id    BIGINT NOT NULL REFERENCES git_repositories (id) ON DELETE CASCADE,
    name             TEXT NOT NULL,
    source           TEXT NOT NULL,
    extensions       TEXT NOT NULL,
    object_count     BIGINT NOT NULL,
    delta_count      BIGINT NOT NULL,
    index_version    INTEGER NOT NULL,
    min_update_index BIGINT NOT NULL,
    max_update_index BIGINT NOT NULL,
    last_modified    BIGINT NOT NULL,
    dropped_at       BIGINT,
    PRIMARY KEY (repository_id, name)
);
CREATE INDEX git_packs_dropped ON git_packs (dropped_at) WHERE dropped_at IS NOT NULL;
CREATE INDEX git_pack_files_created ON git_pack_files (created_at);
