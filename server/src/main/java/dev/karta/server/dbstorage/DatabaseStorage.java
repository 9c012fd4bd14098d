package dev.karta.server.dbstorage;

import dev.karta.server.build.ReleaseFiles;
import dev.karta.server.datadir.LocalStorage;
import dev.karta.server.repos.RepoStore;
import dev.karta.server.store.Database;

/**
 * The storage of a replica among many: durable bytes in the PostgreSQL database, the data dir of
 * this machine only a cache of them.
 */
public final class DatabaseStorage {
    private final LocalStorage cache;
    private final DatabaseReleaseFiles releaseFiles;

    public DatabaseStorage(Database db, LocalStorage cache) {
        this.cache = cache;
        this.releaseFiles = new DatabaseReleaseFiles(db, new Blobs(db), cache.releaseCache());
    }

    public ReleaseFiles releaseFiles() {
        return releaseFiles;
    }

    public RepoStore repos() {
        return cache.repos();
    }
}
