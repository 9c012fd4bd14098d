package dev.karta.server.dbstorage;

import dev.karta.server.build.ReleaseFiles;
import dev.karta.server.datadir.LocalStorage;
import dev.karta.server.repos.RepoStore;
import dev.karta.server.store.Database;

/**
 * The storage of a replica among many: durable bytes in the PostgreSQL database, the data dir of
 * this machine only a cache of them. Closing it stops its background work (git compaction).
 */
public final class DatabaseStorage implements AutoCloseable {
    private final DatabaseReleaseFiles releaseFiles;
    private final DatabaseRepoStore repos;

    public DatabaseStorage(Database db, LocalStorage cache) {
        this.releaseFiles = new DatabaseReleaseFiles(db, new Blobs(db), cache.releaseCache());
        this.repos = new DatabaseRepoStore(db, cache.repos(), DatabaseRepoStore.COMPACT_ABOVE_PACKS);
    }

    public ReleaseFiles releaseFiles() {
        return releaseFiles;
    }

    public RepoStore repos() {
        return repos;
    }

    @Override
    public void close() {
        repos.close();
    }
}
