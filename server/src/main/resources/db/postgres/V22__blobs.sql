-- Release files stored in the database (--storage database), so that any replica can serve any
-- release and its data dir is only a cache.
--
-- A blob is an immutable byte string named by the sha256 (hex) of its bytes, stored once however
-- many releases and projects share it, in chunks of chunk_bytes (the last one shorter). Its row
-- and its chunks are written in one transaction, so a blob is either whole or absent.
CREATE TABLE blobs (
    digest      TEXT PRIMARY KEY,
    bytes       BIGINT NOT NULL,
    chunk_bytes INTEGER NOT NULL,
    stored_at   BIGINT NOT NULL
);

CREATE TABLE blob_chunks (
    digest TEXT NOT NULL REFERENCES blobs (digest) ON DELETE CASCADE,
    seq    INTEGER NOT NULL,
    data   BYTEA NOT NULL,
    PRIMARY KEY (digest, seq)
);
-- Chunks are gzip data already: out of line, and not compressed again by TOAST.
ALTER TABLE blob_chunks ALTER COLUMN data SET STORAGE EXTERNAL;

-- A release tree by its content digest (sha256:…): the blob of its deterministic gzip-compressed
-- tar, and the file count and bytes of its regular files. Archives need no table: an archive is
-- the blob named by its sha256 (a deploy's artifact).
CREATE TABLE stored_trees (
    content_digest TEXT PRIMARY KEY,
    blob           TEXT NOT NULL REFERENCES blobs (digest),
    files          INTEGER NOT NULL,
    bytes          BIGINT NOT NULL,
    stored_at      BIGINT NOT NULL
);
CREATE INDEX stored_trees_blob ON stored_trees (blob);
