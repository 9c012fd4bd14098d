package dev.karta.server.build;

import java.io.IOException;
import java.io.InputStream;
import java.time.Instant;
import java.util.Optional;
import java.util.function.Predicate;

/**
 * Where the durable bytes of releases are kept, by content: an archive by the sha256 of its bytes
 * (hex, the {@code artifact} of a deploy), a tree by its content digest ({@code sha256:…}). Every
 * archive is checked by the {@link Materializer} on its way in, whatever door it came through. A
 * build or a session gets a tree as a local folder through {@link #checkOut}; nothing else learns
 * where the store keeps its bytes.
 */
public interface ReleaseFiles {

    /**
     * Receives {@code gzipTar} into the store's staging area while hashing it; nothing is extracted
     * and nothing is in the store yet. More than {@code maxArchiveBytes} is a 413
     * ({@code archive_too_large}). The caller closes what it gets, which drops all it did not keep.
     */
    Incoming receive(InputStream gzipTar, long maxArchiveBytes) throws IOException;

    /** An archive being stored: hashed, then checked and extracted, then kept (or dropped on close). */
    interface Incoming extends AutoCloseable {
        /** The sha256 (hex) of the archive's bytes. */
        String artifact();

        /** The archive's size, compressed. */
        long bytes();

        /**
         * Checks and extracts the archive (an {@link ArchiveRejected} when it breaks a rule); the
         * tree is staged, and joins the store with {@link #keep}. Returns the tree as it will be kept.
         */
        Tree extract() throws IOException;

        /** Puts the archive, and its tree once extracted, in the store. Keeping twice is harmless. */
        void keep() throws IOException;

        @Override
        void close() throws IOException;
    }

    /** Whether the tree of {@code contentDigest} is stored. */
    boolean hasTree(String contentDigest);

    /**
     * The stored tree of {@code contentDigest} as a local folder a build or a harness may read
     * (file and byte counts unknown: -1), or empty when it is not stored.
     */
    Optional<Tree> checkOut(String contentDigest);

    /** Whether the archive {@code artifact} is stored. */
    boolean hasArchive(String artifact);

    /** Reads a stored archive, or empty when it is not stored. The caller closes the stream. */
    Optional<InputStream> openArchive(String artifact) throws IOException;

    /** Bytes of the regular files of a stored tree; 0 when it is not stored. */
    long treeBytes(String contentDigest);

    /** Bytes of a stored archive; 0 when it is not stored. */
    long archiveBytes(String artifact);

    /**
     * Takes the tree of {@code contentDigest} out of the store at once (no build or session finds
     * it any more) and returns what frees its space, to run after the caller's transaction
     * commits; null when it is not stored.
     */
    Removal removeTree(String contentDigest) throws IOException;

    /** Frees what {@link #removeTree} took out of the store. */
    @FunctionalInterface
    interface Removal {
        void finish() throws IOException;
    }

    /**
     * Deletes stored trees and archives stored before {@code storedBefore} that nothing refers to:
     * {@code treeReferenced} is asked with a content digest, {@code archiveReferenced} with an
     * artifact.
     */
    void sweepUnreferenced(Instant storedBefore, Predicate<String> treeReferenced,
                           Predicate<String> archiveReferenced);

    /** Removes what a killed server left half-made (staged trees and archives). Runs at start. */
    void sweepLeftovers() throws IOException;
}
