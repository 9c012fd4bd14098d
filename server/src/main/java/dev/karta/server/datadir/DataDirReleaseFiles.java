package dev.karta.server.datadir;

import dev.karta.server.Ids;
import dev.karta.server.build.Materializer;
import dev.karta.server.build.ReleaseFiles;
import dev.karta.server.build.Tree;
import dev.karta.server.http.ApiError;
import dev.karta.server.store.Digests;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.security.MessageDigest;
import java.time.Instant;
import java.util.Optional;
import java.util.function.Predicate;
import java.util.stream.Stream;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Release files in the data dir: archives in {@code artifacts/<sha256>.tar.gz}, trees in
 * {@code trees/<digest>}. An archive is received into a {@code .upload-*.tmp} file next to the
 * archives and renamed into place when kept; its tree is staged by the {@link Materializer} and
 * renamed into place too, so a crash leaves only leftovers that {@link #sweepLeftovers} removes.
 */
final class DataDirReleaseFiles implements ReleaseFiles {
    private static final Logger LOG = LoggerFactory.getLogger(DataDirReleaseFiles.class);
    static final String TEMP_PREFIX = ".upload-";
    static final String TEMP_SUFFIX = ".tmp";
    private static final String SUFFIX = ".tar.gz";

    private final DataDir dataDir;
    private final Materializer materializer;

    DataDirReleaseFiles(DataDir dataDir, Materializer materializer) {
        this.dataDir = dataDir;
        this.materializer = materializer;
    }

    @Override
    public Incoming receive(InputStream gzipTar, long maxArchiveBytes) throws IOException {
        Files.createDirectories(dataDir.artifacts());
        Path temp = Files.createTempFile(dataDir.artifacts(), TEMP_PREFIX, TEMP_SUFFIX);
        try {
            MessageDigest sha = Digests.sha256();
            long count = 0;
            try (OutputStream copy = Files.newOutputStream(temp)) {
                byte[] buffer = new byte[64 * 1024];
                for (int n; (n = gzipTar.read(buffer)) > 0; ) {
                    count += n;
                    if (count > maxArchiveBytes) {
                        throw new ApiError(ApiError.Kind.TOO_LARGE, "archive_too_large",
                                "archive is larger than " + maxArchiveBytes + " bytes compressed (max_archive_bytes)");
                    }
                    copy.write(buffer, 0, n);
                    sha.update(buffer, 0, n);
                }
            }
            return new DiskIncoming(temp, Digests.hex(sha.digest()), count);
        } catch (IOException | RuntimeException | Error e) {
            Files.deleteIfExists(temp);
            throw e;
        }
    }

    /** An archive in its temporary file, and its tree once staged. */
    private final class DiskIncoming implements Incoming {
        private final Path temp;
        private final String artifact;
        private final long bytes;
        private Materializer.Staged staged;

        DiskIncoming(Path temp, String artifact, long bytes) {
            this.temp = temp;
            this.artifact = artifact;
            this.bytes = bytes;
        }

        @Override
        public String artifact() {
            return artifact;
        }

        @Override
        public long bytes() {
            return bytes;
        }

        @Override
        public Tree extract() throws IOException {
            if (staged == null) {
                Files.createDirectories(dataDir.trees());
                try (InputStream in = Files.newInputStream(temp)) {
                    staged = materializer.stage(in, dataDir.trees());
                }
            }
            return new Tree(dataDir.tree(staged.contentDigest()), staged.contentDigest(), staged.files(),
                    staged.bytes());
        }

        @Override
        public void keep() throws IOException {
            Path target = dataDir.artifact(artifact);
            if (!Files.exists(target) && Files.exists(temp)) {
                Files.move(temp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            }
            if (staged != null) {
                materializer.place(staged, dataDir.trees());
            }
        }

        @Override
        public void close() throws IOException {
            try {
                if (staged != null) {
                    Materializer.discard(staged);
                }
            } finally {
                Files.deleteIfExists(temp);
            }
        }
    }

    @Override
    public boolean hasTree(String contentDigest) {
        return Files.isDirectory(dataDir.tree(contentDigest));
    }

    @Override
    public Optional<Tree> checkOut(String contentDigest) {
        // The data dir is on this machine: the stored tree is itself the local folder.
        Path tree = dataDir.tree(contentDigest);
        return Files.isDirectory(tree) ? Optional.of(new Tree(tree, contentDigest, -1, -1)) : Optional.empty();
    }

    @Override
    public boolean hasArchive(String artifact) {
        return Files.isRegularFile(dataDir.artifact(artifact));
    }

    @Override
    public Optional<InputStream> openArchive(String artifact) throws IOException {
        Path file = dataDir.artifact(artifact);
        return Files.isRegularFile(file) ? Optional.of(Files.newInputStream(file)) : Optional.empty();
    }

    @Override
    public long treeBytes(String contentDigest) {
        Path tree = dataDir.tree(contentDigest);
        if (!Files.isDirectory(tree)) {
            return 0;
        }
        try (Stream<Path> files = Files.walk(tree)) {
            return files.filter(Files::isRegularFile).mapToLong(DataDirReleaseFiles::fileSize).sum();
        } catch (IOException | UncheckedIOException e) {
            LOG.warn("could not measure {}: {}", tree, e.toString());
            return 0;
        }
    }

    @Override
    public long archiveBytes(String artifact) {
        return fileSize(dataDir.artifact(artifact));
    }

    /** Best effort: a file vanishing meanwhile counts 0. */
    private static long fileSize(Path file) {
        try {
            return Files.isRegularFile(file) ? Files.size(file) : 0;
        } catch (IOException e) {
            return 0;
        }
    }

    @Override
    public Removal removeTree(String contentDigest) throws IOException {
        Path tree = dataDir.tree(contentDigest);
        if (!Files.exists(tree, LinkOption.NOFOLLOW_LINKS)) {
            return null;
        }
        Path trash = dataDir.trees().resolve(".staging").resolve(Ids.next("prn"));
        Files.createDirectories(trash.getParent());
        Files.move(tree, trash, StandardCopyOption.ATOMIC_MOVE);
        return () -> Materializer.deleteRecursively(trash);
    }

    @Override
    public void sweepUnreferenced(Instant storedBefore, Predicate<String> treeReferenced,
                                  Predicate<String> archiveReferenced) {
        sweep(dataDir.trees(), storedBefore, name -> !name.startsWith(".") && !treeReferenced.test("sha256:" + name));
        sweep(dataDir.artifacts(), storedBefore, name -> name.endsWith(SUFFIX)
                && !archiveReferenced.test(name.substring(0, name.length() - SUFFIX.length())));
    }

    private static void sweep(Path dir, Instant cutoff, Predicate<String> unreferenced) {
        if (!Files.isDirectory(dir)) {
            return;
        }
        try (Stream<Path> children = Files.list(dir)) {
            for (Path child : children.toList()) {
                String name = child.getFileName().toString();
                if (unreferenced.test(name) && Files.getLastModifiedTime(child).toInstant().isBefore(cutoff)) {
                    Materializer.deleteRecursively(child);
                    LOG.info("removed unreferenced {}", child);
                }
            }
        } catch (IOException e) {
            LOG.warn("could not sweep {}: {}", dir, e.toString());
        }
    }

    /**
     * Removes staged trees and the temporary copies of archives ({@code .upload-*.tmp}; a receive in
     * progress deletes its own) that a killed server left behind.
     */
    @Override
    public void sweepLeftovers() throws IOException {
        Materializer.sweepStaging(dataDir.trees());
        sweepTemporaryArchives();
    }

    /** Removes the {@code .upload-*.tmp} copies; returns how many. */
    int sweepTemporaryArchives() throws IOException {
        if (!Files.isDirectory(dataDir.artifacts())) {
            return 0;
        }
        int removed = 0;
        try (var leftovers = Files.newDirectoryStream(dataDir.artifacts(), TEMP_PREFIX + "*" + TEMP_SUFFIX)) {
            for (Path leftover : leftovers) {
                removed += Files.deleteIfExists(leftover) ? 1 : 0;
            }
        }
        return removed;
    }
}
