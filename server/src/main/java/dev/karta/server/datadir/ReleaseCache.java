package dev.karta.server.datadir;

import dev.karta.server.Config.ArchiveLimits;
import dev.karta.server.Ids;
import dev.karta.server.build.Materializer;
import dev.karta.server.build.ReleaseFiles;
import dev.karta.server.build.Tree;
import dev.karta.server.store.Digests;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.nio.file.attribute.PosixFilePermission;
import java.security.DigestInputStream;
import java.security.DigestOutputStream;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.stream.Stream;
import java.util.zip.Deflater;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveOutputStream;
import org.apache.commons.compress.archivers.tar.TarConstants;
import org.apache.commons.compress.compressors.gzip.GzipCompressorOutputStream;
import org.apache.commons.compress.compressors.gzip.GzipParameters;

/**
 * The data dir as a cache of release files kept elsewhere (in the database, with
 * {@code --storage database}): the same layout as the data dir's own store ({@link #files()}),
 * plus the ways in and out of it. A cached tree is packed as a deterministic gzip-compressed tar
 * ({@link #pack}); a packed tree is unpacked back into the cache ({@link #unpack}) through the
 * {@link Materializer}, checked against its content digest before one atomic rename puts it in
 * place; an archive is copied in ({@link #putArchive}) checked against its sha256. Whatever fails
 * leaves nothing in the cache, only staging leftovers that the start-up sweep removes.
 */
public final class ReleaseCache {
    /** Every packed member sits under this folder, which the materializer strips when unpacking. */
    private static final String TOP = "tree/";
    private static final int BUFFER = 64 * 1024;
    /**
     * A packed tree passed the archive limits once, when it was published; the limits in force now
     * may be lower, and the packed form counts folders as members too, so unpacking sets none.
     */
    private static final ArchiveLimits UNPACK_LIMITS = new ArchiveLimits(Long.MAX_VALUE, Long.MAX_VALUE,
            Integer.MAX_VALUE, Integer.MAX_VALUE, Integer.MAX_VALUE);

    private final DataDir dataDir;
    private final DataDirReleaseFiles files;
    private final Materializer unpacker = new Materializer(UNPACK_LIMITS);

    ReleaseCache(DataDir dataDir, DataDirReleaseFiles files) {
        this.dataDir = dataDir;
        this.files = files;
    }

    /**
     * The cached release files as a store of their own: receiving and extracting archives, cached
     * trees and archives, removing and sweeping them.
     */
    public ReleaseFiles files() {
        return files;
    }

    /** The cached tree of {@code contentDigest}, with the counts the caller knows, or empty when it is not here. */
    public Optional<Tree> tree(String contentDigest, int fileCount, long bytes) {
        Path dir = dataDir.tree(contentDigest);
        return Files.isDirectory(dir) ? Optional.of(new Tree(dir, contentDigest, fileCount, bytes)) : Optional.empty();
    }

    /** A packed tree in a temporary file of the cache, deleted on close. */
    public static final class Packed implements AutoCloseable {
        private final Path file;
        private final String sha256;
        private final long bytes;

        private Packed(Path file, String sha256, long bytes) {
            this.file = file;
            this.sha256 = sha256;
            this.bytes = bytes;
        }

        /** The sha256 (hex) of the packed bytes. */
        public String sha256() {
            return sha256;
        }

        public long bytes() {
            return bytes;
        }

        public InputStream open() throws IOException {
            return Files.newInputStream(file);
        }

        @Override
        public void close() throws IOException {
            Files.deleteIfExists(file);
        }
    }

    /**
     * Packs the cached tree of {@code contentDigest} as a gzip-compressed tar: members sorted by
     * path, each under {@value #TOP}, with no owner and no time, modes 0755 (folders and executable
     * files) or 0644, so the same tree packs to the same tar. Fails when the tree is not cached,
     * and with a {@link NotTheTree} when its files no longer make {@code contentDigest}.
     */
    public Packed pack(String contentDigest) throws IOException {
        Path root = dataDir.tree(contentDigest);
        if (!Files.isDirectory(root, LinkOption.NOFOLLOW_LINKS)) {
            throw new IOException("the tree " + contentDigest + " is not in the cache at " + root);
        }
        Path staging = dataDir.trees().resolve(".staging");
        Files.createDirectories(staging);
        Path file = staging.resolve(Ids.next("pck") + ".tar.gz");
        try {
            MessageDigest sha = Digests.sha256();
            GzipParameters gzip = new GzipParameters();
            gzip.setCompressionLevel(Deflater.BEST_SPEED);
            try (OutputStream out = new DigestOutputStream(Files.newOutputStream(file), sha);
                 TarArchiveOutputStream tar = new TarArchiveOutputStream(new GzipCompressorOutputStream(out, gzip),
                         BUFFER, StandardCharsets.UTF_8.name())) {
                tar.setLongFileMode(TarArchiveOutputStream.LONGFILE_POSIX);
                tar.setBigNumberMode(TarArchiveOutputStream.BIGNUMBER_POSIX);
                tar.setAddPaxHeadersForNonAsciiNames(true);
                tar.putArchiveEntry(entry(TOP, TarConstants.LF_DIR, 0755));
                tar.closeArchiveEntry();
                Materializer.ContentDigest content = new Materializer.ContentDigest();
                for (Path path : sorted(root)) {
                    packOne(tar, root, path, content);
                }
                // What is packed is stored as this tree for good: a cached copy that changed (a
                // wiped or damaged cache) must not be stored in its name.
                String packedDigest = content.digest();
                if (!packedDigest.equals(contentDigest)) {
                    throw new NotTheTree("the cached tree " + contentDigest + " has changed on disk (its files make "
                            + packedDigest + "): not stored");
                }
                tar.finish();
            }
            return new Packed(file, Digests.hex(sha.digest()), Files.size(file));
        } catch (IOException | RuntimeException | Error e) {
            Files.deleteIfExists(file);
            throw e;
        }
    }

    private static void packOne(TarArchiveOutputStream tar, Path root, Path path, Materializer.ContentDigest content)
            throws IOException {
        String relative = root.relativize(path).toString();
        String name = TOP + relative;
        BasicFileAttributes attrs = Files.readAttributes(path, BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS);
        if (attrs.isDirectory()) {
            tar.putArchiveEntry(entry(name + "/", TarConstants.LF_DIR, 0755));
        } else if (attrs.isSymbolicLink()) {
            TarArchiveEntry link = entry(name, TarConstants.LF_SYMLINK, 0777);
            String target = Files.readSymbolicLink(path).toString();
            link.setLinkName(target);
            tar.putArchiveEntry(link);
            content.link(relative, target);
        } else if (attrs.isRegularFile()) {
            boolean executable = Files.getPosixFilePermissions(path, LinkOption.NOFOLLOW_LINKS)
                    .contains(PosixFilePermission.OWNER_EXECUTE);
            TarArchiveEntry file = entry(name, TarConstants.LF_NORMAL, executable ? 0755 : 0644);
            file.setSize(attrs.size());
            tar.putArchiveEntry(file);
            MessageDigest sha = Digests.sha256();
            try (InputStream in = new DigestInputStream(Files.newInputStream(path, LinkOption.NOFOLLOW_LINKS), sha)) {
                long copied = in.transferTo(tar);
                if (copied != attrs.size()) {
                    throw new IOException("the cached file " + path + " changed while it was packed");
                }
            }
            content.file(relative, executable, Digests.hex(sha.digest()));
        } else {
            throw new IOException("the cached tree holds " + path + ", which is no file, folder or link");
        }
        tar.closeArchiveEntry();
    }

    private static TarArchiveEntry entry(String name, byte type, int mode) {
        TarArchiveEntry entry = new TarArchiveEntry(name, type);
        entry.setMode(mode | (type == TarConstants.LF_DIR ? 040000 : type == TarConstants.LF_SYMLINK ? 0120000 : 0100000));
        // The entry starts with this process's user name and the current time: neither belongs in a packed tree.
        entry.setModTime(0);
        entry.setUserName("");
        entry.setGroupName("");
        entry.setIds(0, 0);
        return entry;
    }

    /** Every path under {@code root} (not itself), links not followed, sorted by their names. */
    private static List<Path> sorted(Path root) throws IOException {
        try (Stream<Path> walk = Files.walk(root)) {
            List<Path> paths = new ArrayList<>(walk.filter(p -> !p.equals(root)).toList());
            paths.sort((a, b) -> root.relativize(a).toString().compareTo(root.relativize(b).toString()));
            return paths;
        }
    }

    /** What {@link #unpack} found instead of the tree it was asked for. */
    public static final class NotTheTree extends IOException {
        NotTheTree(String message) {
            super(message);
        }
    }

    /**
     * Unpacks a tree that {@link #pack} packed into the cache as the tree of {@code contentDigest}:
     * staged by the materializer (with its rules, without its size limits), {@code packed} read to
     * its end (a stream that checks its bytes fails there), the staged tree's content digest
     * compared with {@code contentDigest} (else a {@link NotTheTree}), and only then renamed into place. Unpacking a tree that
     * is cached already changes nothing. A failure leaves nothing in the cache.
     */
    public Tree unpack(String contentDigest, int fileCount, long bytes, InputStream packed) throws IOException {
        Files.createDirectories(dataDir.trees());
        Materializer.Staged staged = unpacker.stage(packed, dataDir.trees());
        try {
            packed.transferTo(OutputStream.nullOutputStream());
            if (!staged.contentDigest().equals(contentDigest)) {
                throw new NotTheTree("the stored tree " + contentDigest + " unpacks to a tree with another content "
                        + "digest, " + staged.contentDigest() + ": not cached");
            }
            Tree placed = unpacker.place(staged, dataDir.trees());
            return new Tree(placed.dir(), contentDigest, fileCount, bytes);
        } finally {
            Materializer.discard(staged);
        }
    }

    /**
     * Copies the archive {@code artifact} (the sha256, hex, of its bytes) from {@code in} into the
     * cache: into a temporary file first, read to the end, checked, then renamed into place.
     */
    public void putArchive(String artifact, InputStream in) throws IOException {
        Files.createDirectories(dataDir.artifacts());
        Path temp = Files.createTempFile(dataDir.artifacts(), DataDirReleaseFiles.TEMP_PREFIX,
                DataDirReleaseFiles.TEMP_SUFFIX);
        try {
            MessageDigest sha = Digests.sha256();
            try (OutputStream out = new DigestOutputStream(Files.newOutputStream(temp), sha)) {
                in.transferTo(out);
            }
            String actual = Digests.hex(sha.digest());
            if (!actual.equals(artifact)) {
                throw new IOException("the stored archive sha256:" + artifact + " reads as sha256:" + actual
                        + ": not cached");
            }
            Files.move(temp, dataDir.artifact(artifact), StandardCopyOption.ATOMIC_MOVE,
                    StandardCopyOption.REPLACE_EXISTING);
        } finally {
            Files.deleteIfExists(temp);
        }
    }
}
