-- The tables of release files stored in the database (--storage database, PostgreSQL only): kept
-- in this dialect too, so that both dialects have one schema version. See db/postgres/V22.
CREATE TABLE blobs (
    digest      TEXT PRIMARY KEY,
    bytes       BIGINT NOT NULL,
    chunk_bytes INTEGER NOT NULL,
    stored_at   BIGINT NOT NULL
);

CREATE TABLE blob_chunks (
    digest TEXT NOT NULL REFERENCES blobs (digest) ON DELETE CASCADE,
    seq    INTEGER NOT NULL,
    data   BLOB NOT NULL,
    PRIMARY KEY (digest, seq)
);

CREATE TABLE stored_trees (
    content_digest TEXT PRIMARY KEY,
    blob           TEXT NOT NULL REFERENCES blobs (digest),
    files          INTEGER NOT NULL,
    bytes          BIGINT NOT NULL,
    stored_at      BIGINT NOT NULL
);
CREATE INDEX stored_trees_blob ON stored_trees (blob);
