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

    /** A server's storage: it also compacts repositories and sweeps what dead replicas left. */
    public DatabaseStorage(Database db, LocalStorage cache) {
        this(db, cache, true);
    }

    private DatabaseStorage(Database db, LocalStorage cache, boolean maintains) {
        this.releaseFiles = new DatabaseReleaseFiles(db, new Blobs(db), cache.releaseCache());
        this.repos = new DatabaseRepoStore(db, cache.repos(), DatabaseRepoStore.COMPACT_ABOVE_PACKS, maintains);
    }

    /**
     * The storage an operator's command (export, import, migrate-storage) reads and writes: no
     * compaction or sweep runs while it does, and none is left half-done when it is interrupted.
     */
    public static DatabaseStorage forCommand(Database db, LocalStorage cache) {
        return new DatabaseStorage(db, cache, false);
    }

    /**
     * Refuses to serve a database whose releases were built with {@code --storage local}: their
     * trees and repositories are in some data dir, not here, so this server would find no release
     * and start every repository again empty. Such a database has releases but neither a stored
     * tree nor a repository.
     */
    public static void requireItsFilesIn(Database db) {
        boolean elsewhere = db.withHandle(h -> h.createQuery("SELECT EXISTS (SELECT 1 FROM releases) "
                + "AND NOT EXISTS (SELECT 1 FROM stored_trees) AND NOT EXISTS (SELECT 1 FROM git_repositories)")
                .mapTo(Boolean.class).one());
        if (elsewhere) {
            throw new IllegalStateException("this database's releases were built with --storage local: their trees "
                    + "and git repositories are in that server's data dir, not in the database. Run `karta server "
                    + "migrate-storage --to database` with that data dir once, or start with --storage local");
        }
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
