package dev.karta.server.build;

import dev.karta.server.Config.ArchiveLimits;
import dev.karta.server.Ids;
import dev.karta.server.store.Digests;
import java.io.BufferedInputStream;
import java.io.FilterInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.InterruptedIOException;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.channels.SeekableByteChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryNotEmptyException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.FileVisitResult;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.SimpleFileVisitor;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.channels.Channels;
import java.nio.file.attribute.BasicFileAttributes;
import java.nio.file.attribute.FileAttribute;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.MessageDigest;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.CancellationException;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.Semaphore;
import java.util.function.BiConsumer;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveInputStream;
import org.apache.commons.compress.archivers.tar.TarConstants;
import org.apache.commons.compress.compressors.gzip.GzipCompressorInputStream;

/**
 * Extracts a gzip-compressed tar into a content-addressed release tree, treating the archive as
 * hostile: every member is checked against the named limits and rules before anything is
 * written outside a private staging folder, which is moved into place with one atomic rename
 * (or dropped, when a tree with the same content digest already exists). A failure of any kind
 * leaves nothing behind.
 *
 * <p>Rules, each with the code {@link ArchiveRejected#rule()} reports: {@code archive_too_large},
 * {@code expanded_too_large}, {@code too_many_entries} (413); {@code not_gzip},
 * {@code corrupt_archive}, {@code absolute_path}, {@code path_traversal}, {@code path_too_long},
 * {@code path_too_deep}, {@code link_escapes_tree}, {@code hardlink_target_missing},
 * {@code entry_through_symlink}, {@code special_entry}, {@code conflicting_entry},
 * {@code empty_archive} (422). A single common top-level folder is stripped unless its name starts
 * with a dot (an app that is only {@code .claude/} keeps it). Links are judged against the root the
 * tree will have once stripped, and the finished tree is walked once before it moves into place:
 * every link, followed link by link, must end inside it. A build reads a placed tree's entries back
 * through {@link Tree}, which asks here: never through a link.
 */
public final class Materializer {
    private static final String STAGING = ".staging";
    private static final FileAttribute<Set<PosixFilePermission>> REGULAR =
            PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-r--r--"));
    private static final FileAttribute<Set<PosixFilePermission>> EXECUTABLE =
            PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwxr-xr-x"));
    private static final int BUFFER = 64 * 1024;
    /** Links followed in a row before a path is given up on, as Linux's path resolution does (40). */
    private static final int MAX_LINK_HOPS = 40;

    private final ArchiveLimits limits;

    public Materializer(ArchiveLimits limits) {
        this.limits = limits;
    }

    public ArchiveLimits limits() {
        return limits;
    }

    /** Removes staging folders a crashed process left under {@code treesDir}. */
    public static void sweepStaging(Path treesDir) throws IOException {
        deleteRecursively(treesDir.resolve(STAGING));
    }

    private enum Type { FILE, SYMLINK, DIR }

    private record Member(Type type, boolean executable, String hash, long size) {
    }

    /**
     * A checked tree extracted into a private staging folder under the tree store, not yet in it:
     * {@link #place} moves it into place, {@link #discard} drops it.
     */
    public record Staged(Path stagingRoot, Path root, String contentDigest, int files, long bytes) {
    }

    /** Extracts {@code gzipTar} under {@code treesDir}; returns the (possibly pre-existing) tree. */
    public Tree materialize(InputStream gzipTar, Path treesDir) throws IOException {
        Staged staged = stage(gzipTar, treesDir);
        try {
            return place(staged, treesDir);
        } finally {
            discard(staged);
        }
    }

    /**
     * Extracts and checks {@code gzipTar} in a staging folder under {@code treesDir}; nothing is in
     * the tree store yet. A rejected archive leaves nothing behind.
     */
    public Staged stage(InputStream gzipTar, Path treesDir) throws IOException {
        Path stagingRoot = treesDir.resolve(STAGING).resolve(Ids.next("stg"));
        Files.createDirectories(stagingRoot);
        try {
            Map<String, Member> members = new TreeMap<>();
            extract(gzipTar, stagingRoot, members);
            String top = strippableTop(members);
            Path root = top == null ? stagingRoot : stagingRoot.resolve(top);
            Map<String, Member> relative = top == null ? members : stripTop(members, top);
            if (top != null) {
                checkLinksAfterStripping(root, top, relative);
            }
            verifyTree(root);
            String digest = digest(relative);
            int files = 0;
            long bytes = 0;
            for (Member m : relative.values()) {
                if (m.type() != Type.DIR) {
                    files++;
                    bytes += m.size();
                }
            }
            return new Staged(stagingRoot, root, digest, files, bytes);
        } catch (IOException | RuntimeException | Error e) {
            deleteRecursively(stagingRoot);
            throw e;
        }
    }

    /**
     * Moves a staged tree into the tree store with one atomic rename, or drops it when a tree with
     * the same content digest is already there; returns the tree. Placing twice is harmless.
     */
    public Tree place(Staged staged, Path treesDir) throws IOException {
        Path target = treeFolder(treesDir, staged.contentDigest());
        if (!Files.isDirectory(target) && Files.isDirectory(staged.root(), LinkOption.NOFOLLOW_LINKS)) {
            try {
                Files.move(staged.root(), target, StandardCopyOption.ATOMIC_MOVE);
            } catch (FileAlreadyExistsException | DirectoryNotEmptyException e) {
                // Another build materialized the same content first: same tree, nothing to do.
            }
        }
        return new Tree(target, staged.contentDigest(), staged.files(), staged.bytes());
    }

    /** Removes what is left of a staged tree (all of it, unless it was placed). */
    public static void discard(Staged staged) throws IOException {
        deleteRecursively(staged.stagingRoot());
    }

    /** The UTF-8 text of the regular file at {@code relative} in a materialized tree, or empty (a link is none). */
    static Optional<String> readRegularFile(Path root, String relative) throws IOException {
        return isRegularFile(root, relative) ? Optional.of(Files.readString(root.resolve(relative))) : Optional.empty();
    }

    static boolean isRegularFile(Path root, String relative) {
        return Files.isRegularFile(root.resolve(relative), LinkOption.NOFOLLOW_LINKS);
    }

    static boolean isFolder(Path root, String relative) {
        return Files.isDirectory(root.resolve(relative), LinkOption.NOFOLLOW_LINKS);
    }

    /** The folder of the tree with {@code contentDigest} ({@code sha256:…}) in the tree store {@code treesDir}. */
    public static Path treeFolder(Path treesDir, String contentDigest) {
        return treesDir.resolve(contentDigest.substring(contentDigest.indexOf(':') + 1));
    }

    private void extract(InputStream gzipTar, Path root, Map<String, Member> members) throws IOException {
        InputStream capped = new CappedStream(gzipTar, limits.maxCompressedBytes());
        GzipCompressorInputStream gzip;
        try {
            gzip = new GzipCompressorInputStream(new BufferedInputStream(capped, BUFFER), true);
        } catch (IOException e) {
            throw ArchiveRejected.invalid("not_gzip", "the upload is not a gzip-compressed tar archive (.tar.gz)");
        }
        TarArchiveInputStream tar = new TarArchiveInputStream(gzip);
        Set<String> symlinks = new HashSet<>();
        Set<Path> folders = new HashSet<>();
        byte[] buffer = new byte[BUFFER];
        Writes writes = new Writes((name, hash) -> members.computeIfPresent(name,
                (n, m) -> new Member(m.type(), m.executable(), hash, m.size())));
        try {
            extractMembers(tar, root, members, symlinks, folders, buffer, writes);
            writes.await();
        } finally {
            writes.drain();
        }
        if (members.values().stream().noneMatch(m -> m.type() != Type.DIR)) {
            throw ArchiveRejected.invalid("empty_archive", "the archive holds no files");
        }
    }

    /** Each member of {@code tar} in turn, into {@code root}: small files through {@code writes}. */
    private void extractMembers(TarArchiveInputStream tar, Path root, Map<String, Member> members, Set<String> symlinks,
                                Set<Path> folders, byte[] buffer, Writes writes) throws IOException {
        long expanded = 0;
        int count = 0;
        while (true) {
            TarArchiveEntry entry;
            try {
                entry = tar.getNextEntry();
            } catch (IOException | IllegalArgumentException e) {
                throw ArchiveRejected.invalid("corrupt_archive", "the archive is corrupt or not a tar file: " + e.getMessage());
            }
            if (entry == null) {
                break;
            }
            if (++count > limits.maxEntries()) {
                throw ArchiveRejected.tooLarge("too_many_entries",
                        "archive has more than " + limits.maxEntries() + " members (limit max_archive_entries)");
            }
            String name = checkName(entry.getName());
            if (name.isEmpty()) {
                continue;
            }
            checkNotThroughSymlink(name, symlinks);
            Path path = root.resolve(name);
            if (entry.isCharacterDevice() || entry.isBlockDevice() || entry.isFIFO()) {
                throw special(name);
            }
            if (entry.isDirectory()) {
                Member existing = members.get(name);
                if (existing != null && existing.type() != Type.DIR) {
                    throw conflicting(name);
                }
                createFolders(folders, path, name);
                members.put(name, new Member(Type.DIR, true, "", 0));
            } else if (entry.isSymbolicLink()) {
                String target = entry.getLinkName();
                checkLinkInside(name, target);
                writes.await();
                replaceable(members, name, path);
                createFolders(folders, path.getParent(), name);
                Files.createSymbolicLink(path, Path.of(target));
                symlinks.add(name);
                members.put(name, new Member(Type.SYMLINK, false, Digests.sha256Hex(target),
                        0));
            } else if (entry.isLink()) {
                String target = checkName(entry.getLinkName());
                Member linked = members.get(target);
                if (linked == null || linked.type() != Type.FILE) {
                    throw ArchiveRejected.invalid("hardlink_target_missing", "hard link '" + name + "' points at '"
                            + entry.getLinkName() + "', which is not a file earlier in the archive");
                }
                writes.await(); // the target may still be being written
                replaceable(members, name, path);
                createFolders(folders, path.getParent(), name);
                Files.copy(root.resolve(target), path);
                expanded += linked.size();
                checkExpanded(expanded);
                members.put(name, linked);
            } else if (isRegularFile(entry)) {
                if (members.containsKey(name)) {
                    writes.await(); // the earlier member of this name is replaced: its write must be done
                }
                replaceable(members, name, path);
                createFolders(folders, path.getParent(), name);
                if (expanded + entry.getSize() > limits.maxExpandedBytes()) {
                    checkExpanded(expanded + entry.getSize());
                }
                long written = 0;
                boolean executable = (entry.getMode() & 0111) != 0;
                String hash = null; // a small file's comes from its writer
                if (entry.getSize() <= Writes.SMALL) {
                    // Read (and checked) here, hashed and written by a writer thread meanwhile.
                    byte[] content = new byte[(int) entry.getSize()];
                    try {
                        int n;
                        while (written < content.length
                                && (n = tar.read(content, (int) written, content.length - (int) written)) > 0) {
                            written += n;
                            checkExpanded(expanded + written);
                        }
                    } catch (IOException e) {
                        throw ArchiveRejected.invalid("corrupt_archive", "the archive is truncated or corrupt at '" + name
                                + "': " + e.getMessage());
                    }
                    writes.submit(path, executable, written == content.length ? content
                            : Arrays.copyOf(content, (int) written), name);
                } else {
                    MessageDigest sha = Digests.sha256();
                    try (OutputStream out = Channels.newOutputStream(Files.newByteChannel(path,
                            Set.of(StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE),
                            executable ? EXECUTABLE : REGULAR))) {
                        int n;
                        while ((n = tar.read(buffer)) > 0) {
                            written += n;
                            checkExpanded(expanded + written);
                            sha.update(buffer, 0, n);
                            out.write(buffer, 0, n);
                        }
                    } catch (IOException e) {
                        if (e instanceof java.nio.file.FileSystemException) {
                            throw e;
                        }
                        throw ArchiveRejected.invalid("corrupt_archive", "the archive is truncated or corrupt at '" + name
                                + "': " + e.getMessage());
                    }
                    hash = Digests.hex(sha.digest());
                }
                expanded += written;
                members.put(name, new Member(Type.FILE, executable, hash, written));
            } else {
                throw special(name);
            }
        }
    }

    /**
     * The files of one extraction of at most {@link #SMALL} bytes, hashed and written on shared
     * writer threads while the archive is read (and inflated) on: creating many small files is
     * bound by the file system's latency, and file systems create files in one folder one at a
     * time, so each folder's files go to one writer ({@link #LANES}) and different folders' files
     * are created in parallel. At most {@link #PENDING_BYTES} are read ahead. The reading thread
     * learns each file's hash when it finds its write done, and waits for the writes
     * ({@link #await}) before anything that depends on them or on their hashes: replacing or
     * hard-linking a written file, creating a link, the tree's digest; and ({@link #drain}) before
     * a failed extraction deletes its staging folder.
     */
    private static final class Writes {
        static final int SMALL = 256 * 1024;
        private static final int PENDING_BYTES = 32 << 20;
        /** What a file counts against {@link #PENDING_BYTES} beyond its bytes, so empty files are bounded too. */
        private static final int FILE_COST = 4096;
        private static final ExecutorService[] LANES = new ExecutorService[4];

        static {
            for (int i = 0; i < LANES.length; i++) {
                LANES[i] = Executors.newSingleThreadExecutor(r -> {
                    Thread t = new Thread(r, "tree-writer");
                    t.setDaemon(true);
                    return t;
                });
            }
        }

        private record Pending(String name, Future<String> hash) {
        }

        private final Semaphore slots = new Semaphore(PENDING_BYTES);
        private final ArrayDeque<Pending> pending = new ArrayDeque<>();
        /** Told each written file's sha256 (hex), on the reading thread, as its write is found done. */
        private final BiConsumer<String, String> hashed;

        Writes(BiConsumer<String, String> hashed) {
            this.hashed = hashed;
        }

        /** Hashes and writes {@code content} as the file {@code path} (member {@code name}) on a writer thread. */
        void submit(Path path, boolean executable, byte[] content, String name) throws IOException {
            // A failed write ends the extraction at the next file, not only at the end.
            while (!pending.isEmpty() && pending.peekFirst().hash().isDone()) {
                settle(pending.pollFirst());
            }
            int cost = content.length + FILE_COST;
            try {
                slots.acquire(cost);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new InterruptedIOException("interrupted while extracting '" + name + "'");
            }
            ExecutorService lane = LANES[Math.floorMod(path.getParent().hashCode(), LANES.length)];
            pending.add(new Pending(name, lane.submit(() -> {
                try {
                    String hash = Digests.sha256Hex(content);
                    write(path, executable, content, name);
                    return hash;
                } finally {
                    slots.release(cost);
                }
            })));
        }

        /** Waits for every write so far; throws the first failure. */
        void await() throws IOException {
            while (!pending.isEmpty()) {
                settle(pending.pollFirst());
            }
        }

        private void settle(Pending write) throws IOException {
            hashed.accept(write.name(), result(write.hash()));
        }

        /** Waits for every write still running, uninterruptibly, ignoring failures (the caller is failing or done). */
        void drain() {
            boolean interrupted = false;
            for (Pending write : pending) {
                while (true) {
                    try {
                        write.hash().get();
                        break;
                    } catch (InterruptedException e) {
                        interrupted = true;
                    } catch (ExecutionException | CancellationException e) {
                        break;
                    }
                }
            }
            pending.clear();
            if (interrupted) {
                Thread.currentThread().interrupt();
            }
        }

        private static String result(Future<String> write) throws IOException {
            try {
                return write.get();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new InterruptedIOException("interrupted while extracting");
            } catch (ExecutionException e) {
                Throwable cause = e.getCause();
                if (cause instanceof IOException io) {
                    throw io;
                }
                if (cause instanceof RuntimeException r) {
                    throw r;
                }
                if (cause instanceof Error err) {
                    throw err;
                }
                throw new IOException(cause);
            }
        }

        private static void write(Path path, boolean executable, byte[] content, String name) throws IOException {
            try (SeekableByteChannel out = Files.newByteChannel(path,
                    Set.of(StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE),
                    executable ? EXECUTABLE : REGULAR)) {
                ByteBuffer bytes = ByteBuffer.wrap(content);
                while (bytes.hasRemaining()) {
                    out.write(bytes);
                }
            } catch (IOException e) {
                if (e instanceof java.nio.file.FileSystemException) {
                    throw e;
                }
                throw ArchiveRejected.invalid("corrupt_archive", "the archive is truncated or corrupt at '" + name
                        + "': " + e.getMessage());
            }
        }
    }

    /** Plain file type flags only: commons-compress counts anything not a folder as a "file". */
    private static boolean isRegularFile(TarArchiveEntry entry) {
        byte flag = entry.getLinkFlag();
        return flag == TarConstants.LF_NORMAL || flag == TarConstants.LF_OLDNORM || flag == TarConstants.LF_CONTIG;
    }

    private static ArchiveRejected special(String name) {
        return ArchiveRejected.invalid("special_entry", "member '" + name + "' is a device, fifo or other "
                + "special file; only files, folders and links inside the tree are allowed");
    }

    /** Creates {@code dir} and its parents once per extraction ({@code created} remembers them). */
    private static void createFolders(Set<Path> created, Path dir, String name) throws IOException {
        if (created.contains(dir)) {
            return;
        }
        try {
            Files.createDirectories(dir);
            created.add(dir);
        } catch (FileAlreadyExistsException | java.nio.file.NotDirectoryException e) {
            throw conflicting(name);
        }
    }

    private void checkExpanded(long expanded) {
        if (expanded > limits.maxExpandedBytes()) {
            throw ArchiveRejected.tooLarge("expanded_too_large", "archive expands to more than "
                    + limits.maxExpandedBytes() + " bytes (limit max_expanded_bytes)");
        }
    }

    /** Normalizes a member name ({@code ./a//b/} → {@code a/b}) and applies the path rules. */
    private String checkName(String raw) {
        if (raw.indexOf('\0') >= 0) {
            throw ArchiveRejected.invalid("path_traversal", "member name contains a NUL byte");
        }
        if (raw.startsWith("/") || raw.matches("^[A-Za-z]:[\\\\/].*")) {
            throw ArchiveRejected.invalid("absolute_path", "member '" + raw + "' has an absolute path");
        }
        if (raw.getBytes(StandardCharsets.UTF_8).length > limits.maxPathBytes()) {
            throw ArchiveRejected.invalid("path_too_long", "member path is longer than " + limits.maxPathBytes()
                    + " bytes (limit max_path_bytes): " + raw.substring(0, Math.min(80, raw.length())) + "…");
        }
        List<String> parts = new ArrayList<>();
        for (String part : raw.split("/")) {
            if (part.isEmpty() || part.equals(".")) {
                continue;
            }
            if (part.equals("..")) {
                throw ArchiveRejected.invalid("path_traversal", "member '" + raw + "' uses '..' to leave the tree");
            }
            parts.add(part);
        }
        if (parts.size() > limits.maxPathDepth()) {
            throw ArchiveRejected.invalid("path_too_deep", "member '" + raw + "' is nested deeper than "
                    + limits.maxPathDepth() + " levels (limit max_path_depth)");
        }
        return String.join("/", parts);
    }

    /** Checks a link's target, read as text, against the root of the archive as it was sent. */
    private static void checkLinkInside(String name, String target) {
        checkLinkInside(name, name, target, "");
    }

    /**
     * Checks that {@code target}, read as text from the folder of {@code name} (a path from the
     * final root), never climbs above that root. {@code shown} and {@code why} only word the error.
     */
    private static void checkLinkInside(String shown, String name, String target, String why) {
        if (target == null || target.isEmpty() || target.startsWith("/") || target.indexOf('\0') >= 0) {
            throw linkEscapes(shown, target, why);
        }
        List<String> resolved = new ArrayList<>(List.of(name.split("/")));
        resolved.remove(resolved.size() - 1);
        for (String part : target.split("/")) {
            if (part.isEmpty() || part.equals(".")) {
                continue;
            }
            if (part.equals("..")) {
                if (resolved.isEmpty()) {
                    throw linkEscapes(shown, target, why);
                }
                resolved.remove(resolved.size() - 1);
            } else {
                resolved.add(part);
            }
        }
    }

    private static ArchiveRejected linkEscapes(String shown, String target, String why) {
        return ArchiveRejected.invalid("link_escapes_tree", "symlink '" + shown + "' points outside the tree ('"
                + target + "')" + why);
    }

    /**
     * Links were first checked against the archive's own root; the release tree's root is one level
     * lower once the top folder is stripped, so {@code app/x -> ..} (inside the archive) would name
     * the folder that holds every release tree. Each link is checked again from the final root.
     */
    private static void checkLinksAfterStripping(Path root, String top, Map<String, Member> relative)
            throws IOException {
        for (Map.Entry<String, Member> e : relative.entrySet()) {
            if (e.getValue().type() == Type.SYMLINK) {
                String target = Files.readSymbolicLink(root.resolve(e.getKey())).toString();
                checkLinkInside(top + "/" + e.getKey(), e.getKey(), target,
                        " once the top folder '" + top + "/' is stripped");
            }
        }
    }

    /**
     * The last look at a finished tree before it moves into place: only folders, regular files (each
     * with a single link, so none is shared with a file outside) and symlinks, and every symlink
     * resolves inside the tree when followed the way the kernel follows it, link by link, so that a
     * chain of links that are each harmless as text cannot lead out either.
     */
    private static void verifyTree(Path root) throws IOException {
        // One stat per entry from the walk itself, and one more for a regular file's link count.
        Files.walkFileTree(root, new SimpleFileVisitor<>() {
            @Override
            public FileVisitResult visitFile(Path path, BasicFileAttributes attrs) throws IOException {
                String name = root.relativize(path).toString();
                if (attrs.isSymbolicLink()) {
                    checkResolvesInside(root, name);
                } else if (attrs.isRegularFile()) {
                    if (linkCount(path) > 1) {
                        throw ArchiveRejected.invalid("link_escapes_tree", "member '" + name + "' is hard-linked to a "
                                + "file outside the tree");
                    }
                } else if (!attrs.isDirectory()) {
                    throw special(name);
                }
                return FileVisitResult.CONTINUE;
            }
        });
    }

    /** Hard links to a file; 1 where the file system cannot tell (extraction copies hard links anyway). */
    private static int linkCount(Path file) throws IOException {
        try {
            return Files.getAttribute(file, "unix:nlink", LinkOption.NOFOLLOW_LINKS) instanceof Integer n ? n : 1;
        } catch (UnsupportedOperationException e) {
            return 1;
        }
    }

    /**
     * Follows the symlink {@code name} (a path from {@code root}) component by component, as path
     * resolution does: a component that is itself a link is replaced by its target, {@code ..} climbs
     * one folder, and climbing above {@code root} rejects the archive. Components that do not exist
     * are taken as text (nothing below them can be a link). At most {@value #MAX_LINK_HOPS} links are
     * followed, as Linux does ({@code ELOOP}); a longer chain is rejected too.
     */
    private static void checkResolvesInside(Path root, String name) throws IOException {
        List<String> resolved = new ArrayList<>(List.of(name.split("/")));
        String link = resolved.remove(resolved.size() - 1);
        java.util.Deque<String> pending = new java.util.ArrayDeque<>(List.of(link));
        int hops = 0;
        while (!pending.isEmpty()) {
            String part = pending.pop();
            if (part.isEmpty() || part.equals(".")) {
                continue;
            }
            if (part.equals("..")) {
                if (resolved.isEmpty()) {
                    throw linkEscapes(name, Files.readSymbolicLink(root.resolve(name)).toString(),
                            " when the chain of links it goes through is followed");
                }
                resolved.remove(resolved.size() - 1);
                continue;
            }
            Path at = root.resolve(String.join("/", resolved)).resolve(part);
            if (!Files.isSymbolicLink(at)) {
                resolved.add(part);
                continue;
            }
            if (++hops > MAX_LINK_HOPS) {
                throw ArchiveRejected.invalid("link_escapes_tree", "symlink '" + name + "' does not resolve: more than "
                        + MAX_LINK_HOPS + " links in a row (a loop of links?)");
            }
            String target = Files.readSymbolicLink(at).toString();
            if (target.isEmpty() || target.startsWith("/")) {
                throw ArchiveRejected.invalid("link_escapes_tree", "symlink '" + name + "' leads to an absolute path");
            }
            List<String> parts = List.of(target.split("/"));
            for (int i = parts.size() - 1; i >= 0; i--) {
                pending.push(parts.get(i));
            }
        }
    }

    private static void checkNotThroughSymlink(String name, Set<String> symlinks) {
        int slash = name.indexOf('/');
        while (slash > 0) {
            String parent = name.substring(0, slash);
            if (symlinks.contains(parent)) {
                throw ArchiveRejected.invalid("entry_through_symlink", "member '" + name + "' is written through symlink '"
                        + parent + "'");
            }
            slash = name.indexOf('/', slash + 1);
        }
    }

    /** A later member may replace an earlier file or link of the same name, never a folder. */
    private static void replaceable(Map<String, Member> members, String name, Path path) throws IOException {
        Member existing = members.get(name);
        if (existing == null) {
            if (Files.isDirectory(path, java.nio.file.LinkOption.NOFOLLOW_LINKS)) {
                throw conflicting(name);
            }
            return;
        }
        if (existing.type() == Type.DIR) {
            throw conflicting(name);
        }
        Files.delete(path);
        members.remove(name);
    }

    private static ArchiveRejected conflicting(String name) {
        return ArchiveRejected.invalid("conflicting_entry", "member '" + name + "' is both a folder and a file");
    }

    private static String strippableTop(Map<String, Member> members) {
        String top = null;
        for (Map.Entry<String, Member> e : members.entrySet()) {
            String name = e.getKey();
            int slash = name.indexOf('/');
            String first = slash < 0 ? name : name.substring(0, slash);
            if (slash < 0 && e.getValue().type() != Type.DIR) {
                return null;
            }
            if (top == null) {
                top = first;
            } else if (!top.equals(first)) {
                return null;
            }
        }
        return top == null || top.startsWith(".") ? null : top;
    }

    private static Map<String, Member> stripTop(Map<String, Member> members, String top) {
        Map<String, Member> stripped = new TreeMap<>();
        String prefix = top + "/";
        members.forEach((name, member) -> {
            if (name.startsWith(prefix)) {
                stripped.put(name.substring(prefix.length()), member);
            }
        });
        return stripped;
    }

    /** sha256 over the sorted paths with type, executable bit and content hash: folders do not count. */
    private static String digest(Map<String, Member> members) {
        ContentDigest digest = new ContentDigest();
        members.forEach((name, m) -> {
            if (m.type() != Type.DIR) {
                digest.add(m.type(), m.executable(), m.hash(), name);
            }
        });
        return digest.digest();
    }

    /**
     * The content digest of a tree ({@code sha256:…}), computed the way {@link #stage} computes it,
     * for a tree read back from elsewhere: fed every regular file and link (folders do not count)
     * in the order of their paths ({@link String#compareTo}), each path relative to the tree's root
     * with {@code /} between its parts.
     */
    public static final class ContentDigest {
        private final MessageDigest sha = Digests.sha256();

        /** A regular file, with the sha256 (hex) of its content. */
        public void file(String path, boolean executable, String contentSha256) {
            add(Type.FILE, executable, contentSha256, path);
        }

        /** A symbolic link to {@code target}. */
        public void link(String path, String target) {
            add(Type.SYMLINK, false, Digests.sha256Hex(target), path);
        }

        private void add(Type type, boolean executable, String hash, String path) {
            String line = type + " " + (executable ? "755" : "644") + " " + hash + " " + path + "\n";
            sha.update(line.getBytes(StandardCharsets.UTF_8));
        }

        public String digest() {
            return "sha256:" + Digests.hex(sha.digest());
        }
    }

    /** Deletes a folder tree without following links; a missing folder is fine. */
    public static void deleteRecursively(Path dir) throws IOException {
        if (!Files.exists(dir, java.nio.file.LinkOption.NOFOLLOW_LINKS)) {
            return;
        }
        try (var walk = Files.walk(dir)) {
            List<Path> paths = walk.sorted(java.util.Comparator.reverseOrder()).toList();
            for (Path p : paths) {
                Files.deleteIfExists(p);
            }
        }
    }

    /** Fails the read as soon as more than {@code max} compressed bytes arrive. */
    private static final class CappedStream extends FilterInputStream {
        private final long max;
        private long count;

        CappedStream(InputStream in, long max) {
            super(in);
            this.max = max;
        }

        @Override
        public int read() throws IOException {
            int b = super.read();
            if (b >= 0) {
                count(1);
            }
            return b;
        }

        @Override
        public int read(byte[] b, int off, int len) throws IOException {
            int n = super.read(b, off, len);
            if (n > 0) {
                count(n);
            }
            return n;
        }

        private void count(long n) {
            count += n;
            if (count > max) {
                throw ArchiveRejected.tooLarge("archive_too_large", "archive is larger than " + max
                        + " bytes compressed (limit max_archive_bytes)");
            }
        }
    }
}
