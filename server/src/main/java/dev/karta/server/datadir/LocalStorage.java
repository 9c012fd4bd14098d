package dev.karta.server.datadir;

import dev.karta.server.Config.ArchiveLimits;
import dev.karta.server.build.Materializer;
import dev.karta.server.build.ReleaseFiles;
import dev.karta.server.repos.RepoStore;
import dev.karta.server.workspaces.WorkspaceFiles;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;

/**
 * The storage of one machine: release files and git repositories in {@code --data-dir}, laid out
 * by {@link DataDir}, and sessions' workspaces (a local cache). The rest of the server sees only
 * {@link ReleaseFiles}, {@link RepoStore} and {@link WorkspaceFiles}; start-up uses the owner-only
 * helpers here for the data dir and the secret files.
 */
public final class LocalStorage {
    private final DataDir dataDir;
    private final DataDirReleaseFiles releaseFiles;
    private final DataDirRepoStore repos;
    private final ReleaseCache releaseCache;

    public LocalStorage(Path root, ArchiveLimits limits) {
        this.dataDir = new DataDir(root);
        this.releaseFiles = new DataDirReleaseFiles(dataDir, new Materializer(limits));
        this.repos = new DataDirRepoStore(dataDir);
        this.releaseCache = new ReleaseCache(dataDir, releaseFiles);
    }

    public ReleaseFiles releaseFiles() {
        return releaseFiles;
    }

    /**
     * The same release files seen as a cache of a store elsewhere: what {@code --storage database}
     * keeps on this machine.
     */
    public ReleaseCache releaseCache() {
        return releaseCache;
    }

    public RepoStore repos() {
        return repos;
    }

    /** Sessions' workspaces in {@code dir} (by default {@code workspaces} in the data dir). */
    public WorkspaceFiles workspaces(Path dir) {
        return new DataDirWorkspaces(dir);
    }

    /** Removes what a killed server left half-made: staging trees, archive copies, export buffers. */
    public void sweepLeftovers() {
        try {
            releaseFiles.sweepLeftovers();
            repos.sweepLeftovers();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot clean " + dataDir.root(), e);
        }
    }

    /** Creates the data dir with mode 0700, or narrows an existing one: see {@link DataDir#restrictToOwner()}. */
    public static void restrictToOwner(Path root) {
        new DataDir(root).restrictToOwner();
    }

    /** Narrows an existing secret file to mode 0600: see {@link DataDir#restrictFile}. */
    public static boolean restrictFile(Path file) {
        return DataDir.restrictFile(file);
    }

    /** Creates a secret file empty with mode 0600 unless it exists: see {@link DataDir#createOwnerOnlyFile}. */
    public static void createOwnerOnlyFile(Path file) {
        DataDir.createOwnerOnlyFile(file);
    }
}
