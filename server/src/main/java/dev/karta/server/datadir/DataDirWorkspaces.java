package dev.karta.server.datadir;

import dev.karta.server.Ids;
import dev.karta.server.workspaces.WorkspaceFiles;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.FilterOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileVisitResult;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.SimpleFileVisitor;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.nio.file.attribute.FileTime;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import java.util.zip.GZIPInputStream;
import java.util.zip.GZIPOutputStream;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveInputStream;
import org.apache.commons.compress.archivers.tar.TarArchiveOutputStream;
import org.apache.commons.compress.archivers.tar.TarConstants;

/**
 * Workspaces in a folder of this machine ({@code DATA_DIR/workspaces} unless moved):
 * {@code <session-id>/files} (the working files), {@code home}, {@code upper} and {@code scratch}
 * (an overlay's), and {@code state.digest}, the stamp of the saved state the HOME matches. The
 * stamp sits beside the HOME, out of the harness's reach. Copies and restored HOMEs are staged in
 * {@code .files-*} and {@code .home-*} folders inside the session's folder and renamed into place;
 * a deleted workspace is first renamed to {@code .trash-*}, so a half-made or half-deleted one never
 * looks finished. The harness may have left anything in a workspace (links out, unreadable
 * folders): nothing here follows a link, and folders the owner cannot read or enter are opened up
 * before they are measured or deleted.
 */
final class DataDirWorkspaces implements WorkspaceFiles {
    private static final Pattern SESSION_ID = Pattern.compile("[A-Za-z0-9_]{1,100}");
    private static final String FILES = "files";
    private static final String HOME = "home";
    private static final String UPPER = "upper";
    private static final String SCRATCH = "scratch";
    private static final String STAMP = "state.digest";
    private static final String TRASH = ".trash-";
    /** The XDG base folders the sandbox points XDG_CONFIG_HOME, _DATA_HOME, _STATE_HOME and _CACHE_HOME at. */
    private static final List<String> XDG = List.of(".config", ".local/share", ".local/state", ".cache");
    /** The XDG cache: left out of saved state. */
    private static final String CACHE = ".cache";
    private static final Set<PosixFilePermission> OWNER_ONLY = PosixFilePermissions.fromString("rwx------");
    private static final Set<PosixFilePermission> OWNER_ENTERS =
            EnumSet.of(PosixFilePermission.OWNER_READ, PosixFilePermission.OWNER_WRITE, PosixFilePermission.OWNER_EXECUTE);

    private final Path root;

    DataDirWorkspaces(Path root) {
        this.root = root.toAbsolutePath();
    }

    private Path dir(String sessionId) {
        if (!SESSION_ID.matcher(sessionId).matches()) {
            throw new IllegalArgumentException("not a session id: " + sessionId);
        }
        return root.resolve(sessionId);
    }

    @Override
    public Layout layout(String sessionId) {
        Path dir = dir(sessionId);
        return new Layout(dir.resolve(FILES), dir.resolve(HOME), dir.resolve(UPPER), dir.resolve(SCRATCH));
    }

    @Override
    public List<String> sessions() throws IOException {
        if (!Files.isDirectory(root)) {
            return List.of();
        }
        try (Stream<Path> children = Files.list(root)) {
            return children.map(p -> p.getFileName().toString())
                    .filter(name -> SESSION_ID.matcher(name).matches())
                    .sorted()
                    .toList();
        }
    }

    @Override
    public boolean ready(String sessionId, boolean overlay) {
        Layout layout = layout(sessionId);
        boolean files = isFolder(layout.files());
        boolean upper = isFolder(layout.upper()) && isFolder(layout.scratch());
        return overlay ? files && upper : files && !Files.exists(layout.upper(), LinkOption.NOFOLLOW_LINKS);
    }

    private static boolean isFolder(Path path) {
        return Files.isDirectory(path, LinkOption.NOFOLLOW_LINKS);
    }

    @Override
    public void copy(Path tree, String sessionId) throws IOException {
        Path dir = sessionFolder(sessionId);
        Layout layout = layout(sessionId);
        Path staging = dir.resolve(".files-" + Ids.next("tmp"));
        try {
            copyTree(tree, staging);
            deleteInside(dir, layout.files());
            deleteInside(dir, layout.upper());
            deleteInside(dir, layout.scratch());
            Files.move(staging, layout.files(), StandardCopyOption.ATOMIC_MOVE);
        } finally {
            deleteInside(dir, staging);
        }
    }

    /** The session's folder, created owner-only (with the workspaces folder) when missing. */
    private Path sessionFolder(String sessionId) throws IOException {
        Path dir = dir(sessionId);
        if (!isFolder(root)) {
            Files.createDirectories(root);
            restrict(root);
        }
        if (!isFolder(dir)) {
            Files.createDirectories(dir);
            restrict(dir);
        }
        return dir;
    }

    private static void restrict(Path dir) {
        try {
            Files.setPosixFilePermissions(dir, OWNER_ONLY);
        } catch (UnsupportedOperationException | IOException e) {
            // A file system without POSIX modes: the data dir's own mode is all there is.
        }
    }

    /**
     * {@code cp -a} without following links: folders, regular files (content, mode, times) and
     * symbolic links (their text); anything else is skipped (release trees hold none). Folders get
     * their mode once their content is in, so a read-only folder can still be filled.
     */
    private static void copyTree(Path from, Path to) throws IOException {
        Map<Path, BasicFileAttributes> folders = new TreeMap<>();
        Files.walkFileTree(from, Set.of(), Integer.MAX_VALUE, new SimpleFileVisitor<>() {
            @Override
            public FileVisitResult preVisitDirectory(Path dir, BasicFileAttributes attrs) throws IOException {
                Path target = to.resolve(from.relativize(dir).toString());
                Files.createDirectory(target);
                folders.put(target, attrs);
                return FileVisitResult.CONTINUE;
            }

            @Override
            public FileVisitResult visitFile(Path file, BasicFileAttributes attrs) throws IOException {
                Path target = to.resolve(from.relativize(file).toString());
                if (attrs.isSymbolicLink()) {
                    Files.createSymbolicLink(target, Files.readSymbolicLink(file));
                } else if (attrs.isRegularFile()) {
                    Files.copy(file, target, StandardCopyOption.COPY_ATTRIBUTES, LinkOption.NOFOLLOW_LINKS);
                }
                return FileVisitResult.CONTINUE;
            }

            @Override
            public FileVisitResult postVisitDirectory(Path dir, IOException failed) throws IOException {
                if (failed != null) {
                    throw failed;
                }
                Path target = to.resolve(from.relativize(dir).toString());
                Files.setPosixFilePermissions(target, Files.getPosixFilePermissions(dir, LinkOption.NOFOLLOW_LINKS));
                Files.setLastModifiedTime(target, folders.get(target).lastModifiedTime());
                return FileVisitResult.CONTINUE;
            }
        });
    }

    @Override
    public void prepareOverlay(String sessionId) throws IOException {
        Path dir = sessionFolder(sessionId);
        Layout layout = layout(sessionId);
        deleteInside(dir, layout.files());
        Files.createDirectories(layout.upper());
        Files.createDirectories(layout.scratch());
        Files.createDirectory(layout.files());
    }

    @Override
    public void createHome(String sessionId) throws IOException {
        sessionFolder(sessionId);
        Path home = layout(sessionId).home();
        if (!isFolder(home)) {
            Files.deleteIfExists(home); // a link or file left in its place: never followed
            Files.createDirectory(home);
        }
        createXdgFolders(home);
    }

    /**
     * Creates the XDG folders one level at a time, never through a link: a HOME restored from a
     * tenant's state may hold {@code .local} as a link to anywhere, and then gets no
     * {@code .local/share} from here.
     */
    private static void createXdgFolders(Path home) throws IOException {
        for (String folder : XDG) {
            Path path = home;
            for (Path part : Path.of(folder)) {
                path = path.resolve(part);
                if (!Files.exists(path, LinkOption.NOFOLLOW_LINKS)) {
                    Files.createDirectory(path);
                } else if (!isFolder(path)) {
                    break; // a link or a file the harness put there: its own business, never followed
                }
            }
        }
    }

    @Override
    public boolean hasHome(String sessionId) {
        return isFolder(layout(sessionId).home());
    }

    @Override
    public long bytes(String sessionId) throws IOException {
        Path dir = dir(sessionId);
        if (!isFolder(dir)) {
            return 0;
        }
        long[] total = {0};
        Files.walkFileTree(dir, Set.of(), Integer.MAX_VALUE, new SimpleFileVisitor<>() {
            @Override
            public FileVisitResult preVisitDirectory(Path folder, BasicFileAttributes attrs) throws IOException {
                openUp(folder);
                return FileVisitResult.CONTINUE;
            }

            @Override
            public FileVisitResult visitFile(Path file, BasicFileAttributes attrs) {
                if (attrs.isRegularFile()) {
                    total[0] += attrs.size();
                }
                return FileVisitResult.CONTINUE;
            }

            @Override
            public FileVisitResult visitFileFailed(Path file, IOException e) throws IOException {
                if (e instanceof NoSuchFileException) {
                    return FileVisitResult.CONTINUE;
                }
                throw e;
            }
        });
        return total[0];
    }

    /**
     * Gives the owner back read, write and search on a folder the harness closed (its own files,
     * so it may), so that it can be measured, archived and deleted; a server running as root needs
     * none of this.
     */
    private static void openUp(Path folder) throws IOException {
        if (!Files.isReadable(folder) || !Files.isExecutable(folder) || !Files.isWritable(folder)) {
            Set<PosixFilePermission> mode = Files.getPosixFilePermissions(folder, LinkOption.NOFOLLOW_LINKS);
            mode.addAll(OWNER_ENTERS);
            Files.setPosixFilePermissions(folder, mode);
        }
    }

    @Override
    public byte[] archiveHome(String sessionId, long maxCompressed, long maxExpanded) throws IOException {
        Path home = layout(sessionId).home();
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        long[] expanded = {0};
        try (TarArchiveOutputStream tar = new TarArchiveOutputStream(
                new GZIPOutputStream(new CappedOutput(bytes, maxCompressed), 64 * 1024))) {
            tar.setLongFileMode(TarArchiveOutputStream.LONGFILE_POSIX);
            tar.setBigNumberMode(TarArchiveOutputStream.BIGNUMBER_POSIX);
            tar.setAddPaxHeadersForNonAsciiNames(true);
            for (Path path : walkSorted(home)) {
                String name = home.relativize(path).toString();
                BasicFileAttributes attrs = Files.readAttributes(path, BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS);
                TarArchiveEntry entry;
                if (attrs.isDirectory()) {
                    entry = new TarArchiveEntry(name + "/", TarConstants.LF_DIR);
                } else if (attrs.isSymbolicLink()) {
                    entry = new TarArchiveEntry(name, TarConstants.LF_SYMLINK);
                    entry.setLinkName(Files.readSymbolicLink(path).toString());
                } else if (attrs.isRegularFile()) {
                    entry = new TarArchiveEntry(name, TarConstants.LF_NORMAL);
                    entry.setSize(attrs.size());
                    expanded[0] += attrs.size();
                    if (expanded[0] > maxExpanded) {
                        throw new TooLarge("its files hold more than " + maxExpanded + " bytes");
                    }
                } else {
                    continue; // sockets, fifos, devices: nothing to keep
                }
                if (!attrs.isSymbolicLink()) {
                    entry.setMode(mode(Files.getPosixFilePermissions(path, LinkOption.NOFOLLOW_LINKS)));
                }
                entry.setModTime(attrs.lastModifiedTime().toMillis());
                tar.putArchiveEntry(entry);
                if (attrs.isRegularFile()) {
                    try (InputStream in = Files.newInputStream(path, LinkOption.NOFOLLOW_LINKS)) {
                        copyExactly(in, tar, attrs.size(), name);
                    }
                }
                tar.closeArchiveEntry();
            }
        }
        return bytes.toByteArray();
    }

    /** Every path under {@code home} (not itself), sorted, links not followed, {@code .cache} left out. */
    private static List<Path> walkSorted(Path home) throws IOException {
        List<Path> paths = new ArrayList<>();
        Path cache = home.resolve(CACHE);
        Files.walkFileTree(home, Set.of(), Integer.MAX_VALUE, new SimpleFileVisitor<>() {
            @Override
            public FileVisitResult preVisitDirectory(Path dir, BasicFileAttributes attrs) throws IOException {
                if (dir.equals(cache)) {
                    return FileVisitResult.SKIP_SUBTREE;
                }
                openUp(dir);
                if (!dir.equals(home)) {
                    paths.add(dir);
                }
                return FileVisitResult.CONTINUE;
            }

            @Override
            public FileVisitResult visitFile(Path file, BasicFileAttributes attrs) {
                paths.add(file);
                return FileVisitResult.CONTINUE;
            }
        });
        paths.sort(null);
        return paths;
    }

    /** Copies a file of {@code size} bytes; a file that changed size meanwhile fails the archive. */
    private static void copyExactly(InputStream in, OutputStream out, long size, String name) throws IOException {
        byte[] buffer = new byte[64 * 1024];
        long left = size;
        while (left > 0) {
            int n = in.read(buffer, 0, (int) Math.min(buffer.length, left));
            if (n < 0) {
                throw new IOException(name + " shrank while it was archived");
            }
            out.write(buffer, 0, n);
            left -= n;
        }
    }

    @Override
    public void restoreHome(String sessionId, byte[] archive, long maxExpanded) throws IOException {
        Path dir = sessionFolder(sessionId);
        Path home = layout(sessionId).home();
        Path staging = dir.resolve(".home-" + Ids.next("tmp"));
        try {
            extract(archive, staging, maxExpanded);
            createXdgFolders(staging);
            deleteInside(dir, home);
            Files.move(staging, home, StandardCopyOption.ATOMIC_MOVE);
        } finally {
            deleteInside(dir, staging);
        }
    }

    private static void extract(byte[] archive, Path target, long maxExpanded) throws IOException {
        Files.createDirectory(target);
        Set<Path> links = new HashSet<>();
        Map<Path, TarArchiveEntry> folders = new TreeMap<>();
        long expanded = 0;
        try (TarArchiveInputStream tar = new TarArchiveInputStream(
                new GZIPInputStream(new ByteArrayInputStream(archive)), StandardCharsets.UTF_8.name())) {
            for (TarArchiveEntry entry; (entry = tar.getNextEntry()) != null; ) {
                Path path = inside(target, entry.getName());
                for (Path parent = path.getParent(); !parent.equals(target); parent = parent.getParent()) {
                    if (links.contains(parent)) {
                        throw new IOException("saved state entry '" + entry.getName() + "' passes through a link");
                    }
                }
                Files.createDirectories(path.getParent());
                if (entry.isDirectory()) {
                    if (!isFolder(path)) {
                        Files.createDirectory(path);
                    }
                    folders.put(path, entry);
                } else if (entry.isSymbolicLink()) {
                    Files.createSymbolicLink(path, Path.of(entry.getLinkName()));
                    links.add(path);
                } else if (entry.isFile()) {
                    expanded += entry.getSize();
                    if (expanded > maxExpanded) {
                        throw new TooLarge("saved state expands to more than " + maxExpanded + " bytes");
                    }
                    Files.copy(tar, path);
                    Files.setPosixFilePermissions(path, permissions(entry.getMode()));
                    Files.setLastModifiedTime(path, FileTime.fromMillis(entry.getModTime().getTime()));
                }
            }
        }
        // Deepest first, so that a read-only folder gets its mode after everything inside it.
        List<Path> deepestFirst = new ArrayList<>(folders.keySet());
        deepestFirst.sort((a, b) -> b.getNameCount() - a.getNameCount());
        for (Path folder : deepestFirst) {
            TarArchiveEntry entry = folders.get(folder);
            Files.setPosixFilePermissions(folder, permissions(entry.getMode()));
            Files.setLastModifiedTime(folder, FileTime.fromMillis(entry.getModTime().getTime()));
        }
    }

    /** {@code name} resolved under {@code target}; absolute names, {@code ..} and empty names are refused. */
    private static Path inside(Path target, String name) throws IOException {
        String trimmed = name.endsWith("/") ? name.substring(0, name.length() - 1) : name;
        if (trimmed.isEmpty() || trimmed.startsWith("/") || trimmed.indexOf('\0') >= 0) {
            throw new IOException("saved state has an entry named '" + name + "'");
        }
        for (String part : trimmed.split("/")) {
            if (part.isEmpty() || part.equals(".") || part.equals("..")) {
                throw new IOException("saved state has an entry named '" + name + "'");
            }
        }
        Path path = target.resolve(trimmed).normalize();
        if (!path.startsWith(target) || path.equals(target)) {
            throw new IOException("saved state has an entry named '" + name + "'");
        }
        return path;
    }

    @Override
    public Optional<String> stamp(String sessionId) {
        try {
            return Optional.of(Files.readString(dir(sessionId).resolve(STAMP)).strip());
        } catch (IOException e) {
            return Optional.empty();
        }
    }

    @Override
    public void stamp(String sessionId, String digest) throws IOException {
        Path dir = sessionFolder(sessionId);
        Path temp = dir.resolve(STAMP + "." + Ids.next("tmp"));
        Files.writeString(temp, digest + "\n");
        Files.move(temp, dir.resolve(STAMP), StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    }

    @Override
    public Removal remove(String sessionId) throws IOException {
        Path dir = dir(sessionId);
        if (!Files.exists(dir, LinkOption.NOFOLLOW_LINKS)) {
            return null;
        }
        Path trash = root.resolve(TRASH + Ids.next("tmp"));
        Files.move(dir, trash, StandardCopyOption.ATOMIC_MOVE);
        return () -> deleteTree(trash);
    }

    @Override
    public void sweepLeftovers() throws IOException {
        if (!isFolder(root)) {
            return;
        }
        try (Stream<Path> children = Files.list(root)) {
            for (Path child : children.filter(p -> p.getFileName().toString().startsWith(TRASH)).toList()) {
                deleteTree(child);
            }
        }
    }

    /** Deletes {@code path} (a folder inside {@code dir}) and all in it; a missing one is fine. */
    private static void deleteInside(Path dir, Path path) throws IOException {
        if (!path.startsWith(dir)) {
            throw new IllegalArgumentException(path + " is not inside " + dir);
        }
        deleteTree(path);
    }

    /** Deletes a folder tree without following links, opening up folders the harness closed. */
    private static void deleteTree(Path path) throws IOException {
        if (!Files.exists(path, LinkOption.NOFOLLOW_LINKS)) {
            return;
        }
        Files.walkFileTree(path, Set.of(), Integer.MAX_VALUE, new SimpleFileVisitor<>() {
            @Override
            public FileVisitResult preVisitDirectory(Path dir, BasicFileAttributes attrs) throws IOException {
                openUp(dir);
                return FileVisitResult.CONTINUE;
            }

            @Override
            public FileVisitResult visitFile(Path file, BasicFileAttributes attrs) throws IOException {
                Files.deleteIfExists(file);
                return FileVisitResult.CONTINUE;
            }

            @Override
            public FileVisitResult postVisitDirectory(Path dir, IOException failed) throws IOException {
                if (failed != null) {
                    throw failed;
                }
                Files.deleteIfExists(dir);
                return FileVisitResult.CONTINUE;
            }
        });
    }

    private static int mode(Set<PosixFilePermission> permissions) {
        int mode = 0;
        for (PosixFilePermission p : permissions) {
            mode |= 1 << (8 - p.ordinal());
        }
        return mode;
    }

    private static Set<PosixFilePermission> permissions(int mode) {
        Set<PosixFilePermission> permissions = EnumSet.noneOf(PosixFilePermission.class);
        for (PosixFilePermission p : PosixFilePermission.values()) {
            if ((mode & (1 << (8 - p.ordinal()))) != 0) {
                permissions.add(p);
            }
        }
        return permissions;
    }

    /** Fails the write as soon as more than {@code max} bytes arrive. */
    private static final class CappedOutput extends FilterOutputStream {
        private final long max;
        private long count;

        CappedOutput(OutputStream out, long max) {
            super(out);
            this.max = max;
        }

        @Override
        public void write(int b) throws IOException {
            write(new byte[] {(byte) b}, 0, 1);
        }

        @Override
        public void write(byte[] b, int off, int len) throws IOException {
            count += len;
            if (count > max) {
                throw new TooLarge("compressed, it is larger than " + max + " bytes");
            }
            out.write(b, off, len);
        }
    }
}
