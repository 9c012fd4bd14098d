package dev.karta.server.repos;

import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import org.eclipse.jgit.lib.ObjectId;
import org.eclipse.jgit.lib.Repository;
import org.eclipse.jgit.util.TemporaryBuffer;

/**
 * Where projects' git repositories are kept: the one {@code git push} fills (named
 * {@value #PUSHED}) and the caches of bound repositories. A repository is named within its
 * project by a slash-separated name. Receive-pack, upload-pack, commit lookup and archive export
 * all go through {@link #open}.
 */
public interface RepoStore {
    /** The name of the repository behind {@code /git/{project}.git}. */
    String PUSHED = "repo";

    /**
     * Opens repository {@code name} of a project, creating it bare and empty on first use, with
     * {@code HEAD} on {@code headBranch} when it is not null. The caller closes it.
     */
    Repository open(String projectId, String name, String headBranch) throws IOException;

    /** Opens repository {@code name} of a project when it exists. The caller closes it. */
    Optional<Repository> openExisting(String projectId, String name) throws IOException;

    /**
     * A buffer for an archive exported from a project's repository: in memory up to
     * {@code inMemoryBytes}, spilled to the store's scratch space beyond. The caller destroys it.
     */
    TemporaryBuffer exportBuffer(String projectId, int inMemoryBytes);

    /**
     * Deletes repository {@code name} of a project, or, when {@code name} ends with a slash, every
     * repository under it. Failures are logged: a deleted project's leftovers harm no one.
     */
    void delete(String projectId, String name);

    /**
     * Objects were added to {@code repo} (opened from this store) and whoever added them is done
     * with it: a push has ended, or a fetch into a cache. A repository that has gathered too many
     * packs is then compacted in the background.
     */
    void added(Repository repo);

    /**
     * Watches the packs a receive-pack stores into {@code repo} (opened from this store), so that a
     * push whose every ref update was rejected can take its objects back.
     */
    PushedPacks trackPacks(Repository repo);

    /**
     * The pack one push stored. JGit writes a push's pack before any hook runs (the build reads the
     * pushed commit from it) and keeps it even when every ref update is then rejected.
     */
    interface PushedPacks {
        /** Notes what is stored before the push's pack is received. */
        void beforeReceive() throws IOException;

        /** Identifies the pack the push stored, holding {@code pushed}; when unsure, none is. */
        void afterReceive(List<ObjectId> pushed);

        /** Deletes the identified pack, if any; only once no ref of the push was updated. */
        void takeBack();
    }

    /** Bytes the project's repositories take. */
    long size(String projectId);

    /**
     * Whether a local path lies inside the store's own folders, where other projects' repositories
     * (and, on one machine, the database) live: a file URL there must not be fetched.
     */
    boolean holds(Path local);

    /** Removes what a killed server left behind (export buffers). Runs at start, before any build. */
    void sweepLeftovers() throws IOException;
}
