package dev.karta.server.workspaces;

import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;

/**
 * Where sessions' workspaces live on this machine: per session a folder with its working files (a
 * copy of its release tree, or the mount point, upper and scratch folders of an overlay on it) and
 * its HOME. A local cache: all of it can be rebuilt from the release and the state saved in the
 * store. Paths leave this interface only to be handed to a confined harness. No operation follows
 * a link the harness may have left in a workspace.
 */
public interface WorkspaceFiles {

    /** The folders of one session's workspace; none of them need exist. */
    record Layout(Path files, Path home, Path upper, Path scratch) {
    }

    /** The layout of {@code sessionId}'s workspace. */
    Layout layout(String sessionId);

    /** Ids of the sessions that have a workspace folder here, finished or not. */
    List<String> sessions() throws IOException;

    /**
     * Whether the session's working files are in place: a finished copy, or (with {@code overlay})
     * the overlay's folders.
     */
    boolean ready(String sessionId, boolean overlay);

    /**
     * Makes the session's working files a copy of {@code tree}: modes and times kept, symbolic links
     * copied as links, never followed. The copy is staged and renamed into place; whatever working
     * files the session had are replaced.
     */
    void copy(Path tree, String sessionId) throws IOException;

    /** Creates the overlay's empty mount point, upper and scratch folders, replacing a copy. */
    void prepareOverlay(String sessionId) throws IOException;

    /** Creates the session's HOME, with its XDG base folders, unless it exists. */
    void createHome(String sessionId) throws IOException;

    /** Whether the session's HOME exists. */
    boolean hasHome(String sessionId);

    /** Bytes of the regular files in the session's whole workspace folder (working files and HOME). */
    long bytes(String sessionId) throws IOException;

    /**
     * The session's HOME as a gzip-compressed tar: folders, regular files and symbolic links (as
     * links) with their modes; sockets, fifos and devices are left out, and so is {@code .cache}
     * (the XDG cache, which a harness rebuilds). More than {@code maxCompressed} bytes compressed
     * or {@code maxExpanded} bytes of files is a {@link TooLarge}.
     */
    byte[] archiveHome(String sessionId, long maxCompressed, long maxExpanded) throws IOException;

    /**
     * Replaces the session's HOME by the content of {@code archive} (made by {@link #archiveHome}):
     * staged, then renamed into place. Entries that would land outside the HOME or pass through a
     * link, and more than {@code maxExpanded} bytes of files, are refused.
     */
    void restoreHome(String sessionId, byte[] archive, long maxExpanded) throws IOException;

    /** The digest of the saved state the session's local HOME was last made from or saved as. */
    Optional<String> stamp(String sessionId);

    /** Records {@code digest} as the saved state the local HOME matches. */
    void stamp(String sessionId, String digest) throws IOException;

    /**
     * Takes the session's workspace folder away at once (nothing finds it any more, and the session
     * may get a new one) and returns what frees its space, to run when convenient; null when it
     * had none.
     */
    Removal remove(String sessionId) throws IOException;

    /** Frees what {@link #remove} took away. */
    @FunctionalInterface
    interface Removal {
        void finish() throws IOException;
    }

    /** Removes what a killed server left half-deleted. Runs at start. */
    void sweepLeftovers() throws IOException;

    /** A HOME too large to archive, or an archive too large to restore. */
    final class TooLarge extends IOException {
        public TooLarge(String message) {
            super(message);
        }
    }
}
