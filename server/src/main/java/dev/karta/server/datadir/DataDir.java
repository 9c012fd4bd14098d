package dev.karta.server.datadir;

import dev.karta.server.build.Materializer;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.EnumSet;
import java.util.Set;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Where things live under {@code --data-dir}: release archives by sha256, release trees by
 * content digest (shared by every project, so identical content is stored once), and each
 * project's bare git repository. The data dir itself is the server user's alone (0700), and so is
 * every file holding a secret (0600): see {@link #restrictToOwner()} and {@link #restrictFile}.
 */
public record DataDir(Path root) {
    private static final Logger LOG = LoggerFactory.getLogger(DataDir.class);
    private static final Set<PosixFilePermission> OWNER_ONLY_FOLDER = PosixFilePermissions.fromString("rwx------");
    private static final Set<PosixFilePermission> OWNER_ONLY_FILE = PosixFilePermissions.fromString("rw-------");

    public Path artifacts() {
        return root.resolve("artifacts");
    }

    public Path artifact(String sha256Hex) {
        return artifacts().resolve(sha256Hex + ".tar.gz");
    }

    public Path projects() {
        return root.resolve("projects");
    }

    public Path project(String projectId) {
        return projects().resolve(projectId);
    }

    /** The bare git repository {@code git push} fills ({@code /git/{project}.git}). */
    public Path repo(String projectId) {
        return project(projectId).resolve("repo.git");
    }

    public Path trees() {
        return root.resolve("trees");
    }

    /** The tree of a content digest ({@code sha256:…}). */
    public Path tree(String contentDigest) {
        return Materializer.treeFolder(trees(), contentDigest);
    }

    /**
     * Creates the data dir with mode 0700, or narrows an existing one to 0700 with a warning: it holds
     * the database, secrets and every tenant's trees, none of which other users of the host may read.
     */
    public void restrictToOwner() {
        try {
            if (!Files.isDirectory(root)) {
                Files.createDirectories(root, PosixFilePermissions.asFileAttribute(OWNER_ONLY_FOLDER));
            }
            narrow(root, OWNER_ONLY_FOLDER);
        } catch (UnsupportedOperationException e) {
            LOG.warn("cannot restrict {} to its owner: the file system has no POSIX permissions", root);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot create or restrict the data directory " + root, e);
        }
    }

    /**
     * Narrows an existing secret file (the database, a key file) to mode 0600, with a warning when it
     * was wider; a missing file is fine. Returns whether the mode was changed.
     */
    public static boolean restrictFile(Path file) {
        try {
            return Files.isRegularFile(file) && narrow(file, OWNER_ONLY_FILE);
        } catch (UnsupportedOperationException e) {
            return false;
        } catch (IOException e) {
            throw new UncheckedIOException("cannot restrict " + file + " to mode 0600", e);
        }
    }

    /**
     * Creates an empty file with mode 0600 unless it exists, so that whatever writes it next (SQLite,
     * a key generator) never leaves it readable by others even for a moment. Existing files are
     * narrowed as by {@link #restrictFile}.
     */
    public static void createOwnerOnlyFile(Path file) {
        try {
            Files.createDirectories(file.toAbsolutePath().getParent());
            Files.createFile(file, PosixFilePermissions.asFileAttribute(OWNER_ONLY_FILE));
        } catch (FileAlreadyExistsException e) {
            restrictFile(file);
        } catch (UnsupportedOperationException e) {
            LOG.warn("cannot create {} with mode 0600: the file system has no POSIX permissions", file);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot create " + file, e);
        }
    }

    /** Takes every group and other bit away (a stricter owner-only mode, such as 0400, stays). */
    private static boolean narrow(Path path, Set<PosixFilePermission> ownerOnly) throws IOException {
        // Links are followed: an operator may well keep the data dir (or the database) on another disk.
        Set<PosixFilePermission> actual = Files.getPosixFilePermissions(path);
        Set<PosixFilePermission> narrowed = EnumSet.noneOf(PosixFilePermission.class);
        narrowed.addAll(actual);
        narrowed.retainAll(ownerOnly);
        if (narrowed.equals(actual)) {
            return false;
        }
        Files.setPosixFilePermissions(path, narrowed);
        LOG.warn("{} had mode {}; changed it to {} so that only the server's user can read it", path,
                PosixFilePermissions.toString(actual), PosixFilePermissions.toString(narrowed));
        return true;
    }
}
