package dev.karta.server.migration;

import dev.karta.server.build.ReleaseFiles;
import dev.karta.server.build.Tree;
import dev.karta.server.migration.Manifest.ArchiveEntry;
import dev.karta.server.migration.Manifest.RepoEntry;
import dev.karta.server.migration.Manifest.TreeEntry;
import dev.karta.server.repos.RepoStore;
import java.io.FilterOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermission;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;
import java.util.stream.Stream;
import java.util.zip.ZipEntry;
import java.util.zip.ZipFile;
import java.util.zip.ZipOutputStream;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveOutputStream;
import org.apache.commons.compress.archivers.tar.TarConstants;
import org.apache.commons.compress.compressors.gzip.GzipCompressorOutputStream;
import org.eclipse.jgit.internal.storage.pack.PackWriter;
import org.eclipse.jgit.lib.Constants;
import org.eclipse.jgit.lib.NullProgressMonitor;
import org.eclipse.jgit.lib.ObjectId;
import org.eclipse.jgit.lib.ObjectInserter;
import org.eclipse.jgit.lib.Ref;
import org.eclipse.jgit.lib.RefUpdate;
import org.eclipse.jgit.lib.Repository;
import org.eclipse.jgit.transport.PackParser;
import org.eclipse.jgit.util.TemporaryBuffer;
import org.jdbi.v3.core.Handle;

/**
 * Copies what the storage seam holds for an installation, only through {@link ReleaseFiles} and
 * {@link RepoStore}: from one store to another, into an export, or from an export into a store.
 * A release goes in as its stored archive (or, when only its tree is stored, a tar of the tree)
 * through {@code receive}, {@code extract} and {@code keep}, and the content digest it extracts
 * to must be the one recorded. A repository goes in as one pack of every object its refs reach,
 * then its refs. What the target already holds is skipped, so a copy can run again after it was
 * cut off, and {@link #verify} checks the target against what was copied.
 */
final class StorageCopy {
    private static final int IN_MEMORY = 8 * 1024 * 1024;

    /** A release tree the metadata needs, and the archive it was built from when known. */
    record ReleaseFile(String contentDigest, String artifact) {
    }

    /** What the metadata says the storage must hold. */
    record Wanted(List<ReleaseFile> releases, List<String> pendingArchives, List<String> projectIds) {
        /**
         * Trees of releases that are not pruned (every release a session, a rollback or the active
         * pointer may need), archives of deploys not yet built, and every project's pushed repository.
         * Bound repositories' caches are not copied: they are fetched again when needed.
         */
        static Wanted read(Handle h) {
            List<ReleaseFile> releases = h.createQuery("SELECT r.content_digest, d.artifact FROM releases r "
                            + "LEFT JOIN deploys d ON d.id = r.deploy_id WHERE r.pruned_at IS NULL "
                            + "ORDER BY r.project_id, r.number")
                    .map((rs, ctx) -> new ReleaseFile(rs.getString(1), rs.getString(2))).list();
            List<String> pending = h.createQuery("SELECT DISTINCT artifact FROM deploys "
                            + "WHERE status IN ('queued', 'building') AND artifact IS NOT NULL ORDER BY artifact")
                    .mapTo(String.class).list();
            List<String> projects = h.createQuery("SELECT id FROM projects ORDER BY id").mapTo(String.class).list();
            return new Wanted(releases, pending, projects);
        }
    }

    private final Progress progress;

    StorageCopy(Progress progress) {
        this.progress = progress;
    }

    // ---- store to store ----

    /** Copies what {@code wanted} names from one store to another; returns what was copied, to verify. */
    Manifest.Storage copy(Wanted wanted, ReleaseFiles fromFiles, RepoStore fromRepos, ReleaseFiles toFiles,
                          RepoStore toRepos) throws IOException {
        Map<String, ArchiveEntry> archives = new LinkedHashMap<>();
        Map<String, TreeEntry> trees = new LinkedHashMap<>();
        for (ReleaseFile release : wanted.releases()) {
            String digest = release.contentDigest();
            if (release.artifact() != null && fromFiles.hasArchive(release.artifact())) {
                ArchiveEntry entry = new ArchiveEntry(release.artifact(), fromFiles.archiveBytes(release.artifact()),
                        digest);
                if (archives.putIfAbsent(entry.artifact(), entry) == null) {
                    copyArchive(entry, fromFiles, toFiles);
                }
            } else if (!trees.containsKey(digest)) {
                Optional<Tree> tree = fromFiles.checkOut(digest);
                if (tree.isEmpty()) {
                    progress.say("release tree %s: neither its archive nor its tree is in the source; left out", digest);
                    continue;
                }
                TreeEntry entry = new TreeEntry(digest, fromFiles.treeBytes(digest));
                trees.put(digest, entry);
                if (toFiles.hasTree(digest)) {
                    progress.say("release tree %s: already there", digest);
                    continue;
                }
                TemporaryBuffer tar = new TemporaryBuffer.LocalFile(null, IN_MEMORY);
                try {
                    writeTreeTar(tree.get().dir(), tar);
                    tar.close();
                    try (InputStream in = tar.openInputStream()) {
                        store(in, toFiles, null, digest);
                    }
                    progress.say("release tree %s: copied (%s)", digest, Progress.bytes(entry.bytes()));
                } finally {
                    tar.destroy();
                }
            }
        }
        for (String artifact : wanted.pendingArchives()) {
            if (!archives.containsKey(artifact) && fromFiles.hasArchive(artifact)) {
                ArchiveEntry entry = new ArchiveEntry(artifact, fromFiles.archiveBytes(artifact), null);
                archives.put(artifact, entry);
                copyArchive(entry, fromFiles, toFiles);
            }
        }
        List<RepoEntry> repos = new ArrayList<>();
        for (String projectId : wanted.projectIds()) {
            Optional<Repository> opened = fromRepos.openExisting(projectId, RepoStore.PUSHED);
            if (opened.isEmpty()) {
                continue;
            }
            try (Repository source = opened.get()) {
                RepoEntry entry = new RepoEntry(projectId, RepoStore.PUSHED, head(source), refs(source), 0);
                TemporaryBuffer pack = new TemporaryBuffer.LocalFile(null, IN_MEMORY);
                try {
                    if (!alreadyThere(entry, toRepos)) {
                        long bytes = writePack(source, entry.refs(), pack);
                        pack.close();
                        try (InputStream in = pack.openInputStream()) {
                            putRepository(entry, in, toRepos);
                        }
                        entry = new RepoEntry(projectId, entry.name(), entry.head(), entry.refs(), bytes);
                        progress.say("repository %s/%s: %d refs copied (%s)", projectId, entry.name(),
                                entry.refs().size(), Progress.bytes(bytes));
                    }
                } finally {
                    pack.destroy();
                }
                repos.add(entry);
            }
        }
        return new Manifest.Storage(List.copyOf(archives.values()), List.copyOf(trees.values()), repos);
    }

    private void copyArchive(ArchiveEntry entry, ReleaseFiles from, ReleaseFiles to) throws IOException {
        if (holds(entry, to)) {
            progress.say("release archive %s: already there", entry.artifact());
            return;
        }
        try (InputStream in = from.openArchive(entry.artifact()).orElseThrow(
                () -> new IOException("archive " + entry.artifact() + " vanished from the source"))) {
            store(in, to, entry.artifact(), entry.tree());
        }
        progress.say("release archive %s: copied (%s)", entry.artifact(), Progress.bytes(entry.bytes()));
    }

    // ---- store to export ----

    /** Writes what {@code wanted} names from a store into {@code zip}; returns the manifest's part. */
    Manifest.Storage export(Wanted wanted, ReleaseFiles files, RepoStore repos, ZipOutputStream zip)
            throws IOException {
        Map<String, ArchiveEntry> archives = new LinkedHashMap<>();
        Map<String, TreeEntry> trees = new LinkedHashMap<>();
        for (ReleaseFile release : wanted.releases()) {
            if (release.artifact() != null && files.hasArchive(release.artifact())) {
                if (!archives.containsKey(release.artifact())) {
                    archives.put(release.artifact(), exportArchive(release.artifact(), release.contentDigest(),
                            files, zip));
                }
            } else if (!trees.containsKey(release.contentDigest())) {
                Optional<Tree> tree = files.checkOut(release.contentDigest());
                if (tree.isEmpty()) {
                    progress.say("release tree %s: neither its archive nor its tree is stored; left out",
                            release.contentDigest());
                    continue;
                }
                TreeEntry entry = new TreeEntry(release.contentDigest(), 0);
                zip.putNextEntry(new ZipEntry(entry.path()));
                Counting counting = new Counting(zip);
                writeTreeTar(tree.get().dir(), counting);
                zip.closeEntry();
                trees.put(entry.digest(), new TreeEntry(entry.digest(), counting.count));
                progress.say("release tree %s: %s", entry.digest(), Progress.bytes(counting.count));
            }
        }
        for (String artifact : wanted.pendingArchives()) {
            if (!archives.containsKey(artifact) && files.hasArchive(artifact)) {
                archives.put(artifact, exportArchive(artifact, null, files, zip));
            }
        }
        List<RepoEntry> repoEntries = new ArrayList<>();
        for (String projectId : wanted.projectIds()) {
            Optional<Repository> opened = repos.openExisting(projectId, RepoStore.PUSHED);
            if (opened.isEmpty()) {
                continue;
            }
            try (Repository repo = opened.get()) {
                Map<String, String> refs = refs(repo);
                RepoEntry entry = new RepoEntry(projectId, RepoStore.PUSHED, head(repo), refs, 0);
                zip.putNextEntry(new ZipEntry(entry.path()));
                long bytes = writePack(repo, refs, new Counting(zip));
                zip.closeEntry();
                repoEntries.add(new RepoEntry(projectId, entry.name(), entry.head(), refs, bytes));
                progress.say("repository %s/%s: %d refs, %s", projectId, entry.name(), refs.size(),
                        Progress.bytes(bytes));
            }
        }
        return new Manifest.Storage(List.copyOf(archives.values()), List.copyOf(trees.values()), repoEntries);
    }

    private ArchiveEntry exportArchive(String artifact, String tree, ReleaseFiles files, ZipOutputStream zip)
            throws IOException {
        ArchiveEntry entry = new ArchiveEntry(artifact, 0, tree);
        zip.putNextEntry(new ZipEntry(entry.path()));
        long bytes;
        try (InputStream in = files.openArchive(artifact).orElseThrow(
                () -> new IOException("archive " + artifact + " vanished from the store"))) {
            bytes = in.transferTo(zip);
        }
        zip.closeEntry();
        progress.say("release archive %s: %s", artifact, Progress.bytes(bytes));
        return new ArchiveEntry(artifact, bytes, tree);
    }

    // ---- export to store ----

    /** Puts what an export carries into a store, skipping what it already holds. */
    void importFrom(Manifest.Storage storage, ZipFile zip, ReleaseFiles files, RepoStore repos) throws IOException {
        for (ArchiveEntry entry : storage.archives()) {
            if (holds(entry, files)) {
                progress.say("release archive %s: already there", entry.artifact());
                continue;
            }
            try (InputStream in = open(zip, entry.path())) {
                store(in, files, entry.artifact(), entry.tree());
            }
            progress.say("release archive %s: stored (%s)", entry.artifact(), Progress.bytes(entry.bytes()));
        }
        for (TreeEntry entry : storage.trees()) {
            if (files.hasTree(entry.digest())) {
                progress.say("release tree %s: already there", entry.digest());
                continue;
            }
            try (InputStream in = open(zip, entry.path())) {
                store(in, files, null, entry.digest());
            }
            progress.say("release tree %s: stored (%s)", entry.digest(), Progress.bytes(entry.bytes()));
        }
        for (RepoEntry entry : storage.repos()) {
            if (alreadyThere(entry, repos)) {
                progress.say("repository %s/%s: already there", entry.projectId(), entry.name());
                continue;
            }
            try (InputStream in = open(zip, entry.path())) {
                putRepository(entry, in, repos);
            }
            progress.say("repository %s/%s: %d refs stored (%s)", entry.projectId(), entry.name(),
                    entry.refs().size(), Progress.bytes(entry.bytes()));
        }
    }

    private static InputStream open(ZipFile zip, String path) throws IOException {
        ZipEntry entry = zip.getEntry(path);
        if (entry == null) {
            throw new MigrationFailed("the export is incomplete: " + path + " is missing");
        }
        return zip.getInputStream(entry);
    }

    // ---- verification ----

    /** What the target lacks of {@code storage}, one sentence each; empty when it holds it all. */
    static List<String> verify(Manifest.Storage storage, ReleaseFiles files, RepoStore repos) throws IOException {
        List<String> problems = new ArrayList<>();
        for (ArchiveEntry entry : storage.archives()) {
            if (!files.hasArchive(entry.artifact())) {
                problems.add("release archive " + entry.artifact() + " is missing");
            }
            if (entry.tree() != null && !files.hasTree(entry.tree())) {
                problems.add("release tree " + entry.tree() + " is missing");
            }
        }
        for (TreeEntry entry : storage.trees()) {
            if (!files.hasTree(entry.digest())) {
                problems.add("release tree " + entry.digest() + " is missing");
            }
        }
        for (RepoEntry entry : storage.repos()) {
            Optional<Repository> opened = repos.openExisting(entry.projectId(), entry.name());
            if (opened.isEmpty()) {
                problems.add("repository " + entry.projectId() + "/" + entry.name() + " is missing");
                continue;
            }
            try (Repository repo = opened.get()) {
                Map<String, String> refs = refs(repo);
                if (!refs.equals(entry.refs())) {
                    problems.add("repository " + entry.projectId() + "/" + entry.name() + " has refs " + refs
                            + ", expected " + entry.refs());
                    continue;
                }
                for (String sha : refs.values()) {
                    if (!repo.getObjectDatabase().has(ObjectId.fromString(sha))) {
                        problems.add("repository " + entry.projectId() + "/" + entry.name() + " lacks object " + sha);
                    }
                }
            }
        }
        return problems;
    }

    // ---- release files ----

    private static boolean holds(ArchiveEntry entry, ReleaseFiles files) {
        return files.hasArchive(entry.artifact()) && (entry.tree() == null || files.hasTree(entry.tree()));
    }

    /**
     * Stores a release archive through the store's public door: received (its sha256 must be
     * {@code artifact} when given), extracted when {@code tree} is given (its content digest must be
     * {@code tree}), then kept.
     */
    private static void store(InputStream gzipTar, ReleaseFiles files, String artifact, String tree)
            throws IOException {
        try (ReleaseFiles.Incoming incoming = files.receive(gzipTar, Long.MAX_VALUE)) {
            if (artifact != null && !incoming.artifact().equals(artifact)) {
                throw new MigrationFailed("release archive " + artifact + ": its bytes hash to "
                        + incoming.artifact() + " (the copy is corrupt)");
            }
            if (tree != null) {
                String extracted = incoming.extract().contentDigest();
                if (!extracted.equals(tree)) {
                    throw new MigrationFailed("release tree " + tree + ": the archive "
                            + (artifact == null ? "made from it" : artifact) + " extracts to " + extracted);
                }
            }
            incoming.keep();
        }
    }

    /**
     * A tar.gz of a stored tree that materializes to the same content digest: every member under
     * one top folder ({@code tree/}, which extraction strips), regular files with their executable
     * bit, links as links.
     */
    static void writeTreeTar(Path root, OutputStream out) throws IOException {
        GzipCompressorOutputStream gzip = new GzipCompressorOutputStream(new NonClosing(out));
        try (TarArchiveOutputStream tar = new TarArchiveOutputStream(gzip)) {
            tar.setLongFileMode(TarArchiveOutputStream.LONGFILE_POSIX);
            tar.setBigNumberMode(TarArchiveOutputStream.BIGNUMBER_POSIX);
            List<Path> paths;
            try (Stream<Path> walk = Files.walk(root)) {
                paths = walk.filter(p -> !p.equals(root)).sorted().toList();
            }
            tar.putArchiveEntry(new TarArchiveEntry("tree/", TarConstants.LF_DIR));
            tar.closeArchiveEntry();
            for (Path path : paths) {
                String name = "tree/" + root.relativize(path).toString().replace('\\', '/');
                if (Files.isSymbolicLink(path)) {
                    TarArchiveEntry link = new TarArchiveEntry(name, TarConstants.LF_SYMLINK);
                    link.setLinkName(Files.readSymbolicLink(path).toString());
                    tar.putArchiveEntry(link);
                    tar.closeArchiveEntry();
                } else if (Files.isDirectory(path, LinkOption.NOFOLLOW_LINKS)) {
                    TarArchiveEntry dir = new TarArchiveEntry(name + "/", TarConstants.LF_DIR);
                    dir.setMode(0755 | TarArchiveEntry.DEFAULT_DIR_MODE & ~0777);
                    tar.putArchiveEntry(dir);
                    tar.closeArchiveEntry();
                } else if (Files.isRegularFile(path, LinkOption.NOFOLLOW_LINKS)) {
                    TarArchiveEntry file = new TarArchiveEntry(name);
                    file.setSize(Files.size(path));
                    file.setMode(0100000 | (Files.getPosixFilePermissions(path, LinkOption.NOFOLLOW_LINKS)
                            .contains(PosixFilePermission.OWNER_EXECUTE) ? 0755 : 0644));
                    tar.putArchiveEntry(file);
                    try (InputStream in = Files.newInputStream(path)) {
                        in.transferTo(tar);
                    }
                    tar.closeArchiveEntry();
                }
            }
        }
    }

    // ---- repositories ----

    /** Every ref of {@code repo} but symbolic ones ({@code HEAD}), by name: object id (hex). */
    static Map<String, String> refs(Repository repo) throws IOException {
        Map<String, String> refs = new TreeMap<>();
        for (Ref ref : repo.getRefDatabase().getRefs()) {
            if (!ref.isSymbolic() && ref.getObjectId() != null) {
                refs.put(ref.getName(), ref.getObjectId().name());
            }
        }
        return refs;
    }

    /** The ref {@code HEAD} points at ({@code refs/heads/main}), or null. */
    private static String head(Repository repo) throws IOException {
        Ref head = repo.exactRef(Constants.HEAD);
        return head != null && head.isSymbolic() ? head.getTarget().getName() : null;
    }

    private static boolean alreadyThere(RepoEntry entry, RepoStore repos) throws IOException {
        Optional<Repository> opened = repos.openExisting(entry.projectId(), entry.name());
        if (opened.isEmpty()) {
            return false;
        }
        try (Repository repo = opened.get()) {
            return refs(repo).equals(entry.refs());
        }
    }

    /** Writes one pack of every object the refs reach; returns its size. */
    private static long writePack(Repository repo, Map<String, String> refs, OutputStream out) throws IOException {
        Set<ObjectId> wants = new java.util.HashSet<>();
        refs.values().forEach(sha -> wants.add(ObjectId.fromString(sha)));
        try (PackWriter writer = new PackWriter(repo)) {
            writer.preparePack(NullProgressMonitor.INSTANCE, wants, Set.<ObjectId>of());
            writer.writePack(NullProgressMonitor.INSTANCE, NullProgressMonitor.INSTANCE, out);
            return writer.getStatistics().getTotalBytes();
        }
    }

    /** Creates the repository when needed, inserts the pack's objects, then points its refs. */
    private static void putRepository(RepoEntry entry, InputStream pack, RepoStore repos) throws IOException {
        String headBranch = entry.head() != null && entry.head().startsWith(Constants.R_HEADS)
                ? entry.head().substring(Constants.R_HEADS.length()) : null;
        try (Repository repo = repos.open(entry.projectId(), entry.name(), headBranch)) {
            if (!entry.refs().isEmpty()) {
                try (ObjectInserter inserter = repo.newObjectInserter()) {
                    PackParser parser = inserter.newPackParser(pack);
                    parser.setAllowThin(false);
                    parser.parse(NullProgressMonitor.INSTANCE);
                    inserter.flush();
                }
            }
            for (Map.Entry<String, String> ref : entry.refs().entrySet()) {
                RefUpdate update = repo.updateRef(ref.getKey());
                update.setNewObjectId(ObjectId.fromString(ref.getValue()));
                update.setForceUpdate(true);
                update.disableRefLog();
                RefUpdate.Result result = update.update();
                if (result != RefUpdate.Result.NEW && result != RefUpdate.Result.FORCED
                        && result != RefUpdate.Result.NO_CHANGE && result != RefUpdate.Result.FAST_FORWARD) {
                    throw new MigrationFailed("repository " + entry.projectId() + "/" + entry.name() + ": ref "
                            + ref.getKey() + " could not be set (" + result + ")");
                }
            }
        }
    }

    /** Counts what passes through, and leaves the stream under it open. */
    private static final class Counting extends FilterOutputStream {
        long count;

        Counting(OutputStream out) {
            super(out);
        }

        @Override
        public void write(int b) throws IOException {
            out.write(b);
            count++;
        }

        @Override
        public void write(byte[] b, int off, int len) throws IOException {
            out.write(b, off, len);
            count += len;
        }

        @Override
        public void close() throws IOException {
            flush();
        }
    }

    /** Leaves the stream under it open when closed (a zip entry is closed by the zip). */
    private static final class NonClosing extends FilterOutputStream {
        NonClosing(OutputStream out) {
            super(out);
        }

        @Override
        public void write(byte[] b, int off, int len) throws IOException {
            out.write(b, off, len);
        }

        @Override
        public void close() throws IOException {
            flush();
        }
    }
}
