package dev.karta.server.datadir;

import dev.karta.server.build.Materializer;
import dev.karta.server.repos.RepoStore;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.List;
import java.util.Optional;
import java.util.stream.Stream;
import org.eclipse.jgit.lib.Constants;
import org.eclipse.jgit.lib.RefUpdate;
import org.eclipse.jgit.lib.Repository;
import org.eclipse.jgit.lib.RepositoryCache.FileKey;
import org.eclipse.jgit.lib.RepositoryCache;
import org.eclipse.jgit.storage.file.FileRepositoryBuilder;
import org.eclipse.jgit.util.FS;
import org.eclipse.jgit.util.TemporaryBuffer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Git repositories in the data dir: repository {@code name} of a project is the bare folder
 * {@code projects/<id>/<name>.git}. They are opened through JGit's {@link RepositoryCache}, so the
 * push that receives a pack and the build that exports its commit (before the ref moves) read one
 * object database, and compacted by {@link DataDirCompaction}. Export buffers too big for memory
 * spill into the project's folder.
 */
final class DataDirRepoStore implements RepoStore {
    private static final Logger LOG = LoggerFactory.getLogger(DataDirRepoStore.class);

    private final DataDir dataDir;
    private final Object creating = new Object();
    private final DataDirCompaction compaction = new DataDirCompaction();

    DataDirRepoStore(DataDir dataDir) {
        this.dataDir = dataDir;
    }

    private Path dir(String projectId, String name) {
        return dataDir.project(projectId).resolve(name + ".git");
    }

    @Override
    public Repository open(String projectId, String name, String headBranch) throws IOException {
        Path dir = dir(projectId, name);
        if (!exists(dir)) {
            synchronized (creating) {
                if (!exists(dir)) {
                    create(dir, headBranch);
                }
            }
        }
        Repository repo = RepositoryCache.open(key(dir), true);
        try {
            DataDirCompaction.disableRepackOnReceive(repo);
            return repo;
        } catch (IOException | RuntimeException e) {
            repo.close();
            throw e;
        }
    }

    @Override
    public Optional<Repository> openExisting(String projectId, String name) throws IOException {
        Path dir = dir(projectId, name);
        return exists(dir) ? Optional.of(RepositoryCache.open(key(dir), true)) : Optional.empty();
    }

    private static boolean exists(Path dir) {
        return Files.isRegularFile(dir.resolve(Constants.HEAD));
    }

    private static FileKey key(Path dir) {
        return FileKey.exact(dir.toFile(), FS.DETECTED);
    }

    private static void create(Path dir, String headBranch) throws IOException {
        Files.createDirectories(dir.getParent());
        // Built in a sibling folder and renamed into place, so a crash never leaves half a repository.
        Path staging = dir.resolveSibling(dir.getFileName() + ".creating");
        Materializer.deleteRecursively(staging);
        try (Repository repo = new FileRepositoryBuilder().setGitDir(staging.toFile()).setBare().build()) {
            repo.create(true);
            if (headBranch != null) {
                RefUpdate head = repo.updateRef(Constants.HEAD);
                head.disableRefLog();
                head.link(Constants.R_HEADS + headBranch);
            }
        }
        Files.move(staging, dir, StandardCopyOption.ATOMIC_MOVE);
    }

    @Override
    public TemporaryBuffer exportBuffer(String projectId, int inMemoryBytes) {
        Path folder = dataDir.project(projectId);
        try {
            // Absent when the project's repository lives elsewhere (storage in the database).
            Files.createDirectories(folder);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot create " + folder, e);
        }
        return new TemporaryBuffer.LocalFile(folder.toFile(), inMemoryBytes);
    }

    @Override
    public void delete(String projectId, String name) {
        Path target = name.endsWith("/") ? dataDir.project(projectId).resolve(name.substring(0, name.length() - 1))
                : dir(projectId, name);
        try {
            for (Path repo : repositoriesUnder(target)) {
                RepositoryCache.unregister(key(repo));
            }
            Materializer.deleteRecursively(target);
        } catch (IOException | UncheckedIOException e) {
            LOG.warn("could not delete the repository {} of project {} at {}", name, projectId, target, e);
        }
    }

    private static List<Path> repositoriesUnder(Path target) throws IOException {
        if (!Files.isDirectory(target)) {
            return List.of();
        }
        try (Stream<Path> paths = Files.walk(target, 2)) {
            return paths.filter(p -> p.getFileName().toString().endsWith(".git")).toList();
        }
    }

    /** Compacts {@code repo} in the background once it has too many packs: see {@link DataDirCompaction}. */
    @Override
    public void added(Repository repo) {
        compaction.added(repo);
    }

    @Override
    public PushedPacks trackPacks(Repository repo) {
        return new DataDirPushedPacks(repo);
    }

    @Override
    public long size(String projectId) {
        Path dir = dataDir.project(projectId);
        if (!Files.isDirectory(dir)) {
            return 0;
        }
        try (Stream<Path> files = Files.walk(dir)) {
            return files.filter(Files::isRegularFile).mapToLong(file -> {
                try {
                    return Files.size(file);
                } catch (IOException e) {
                    return 0; // removed meanwhile (a pack being repacked)
                }
            }).sum();
        } catch (IOException | UncheckedIOException e) {
            LOG.warn("could not measure {}: {}", dir, e.toString());
            return 0;
        }
    }

    @Override
    public boolean holds(Path local) {
        Path path = local.toAbsolutePath().normalize();
        Path root = dataDir.root().toAbsolutePath().normalize();
        boolean inside = path.startsWith(root);
        try {
            Path realRoot = root.toRealPath();
            Path realPath = Files.exists(path) ? path.toRealPath() : path;
            inside |= realPath.startsWith(realRoot) || path.startsWith(realRoot);
        } catch (IOException e) {
            // The data directory always exists while the server runs; keep the plain comparison.
        }
        return inside;
    }

    /**
     * Removes export buffers ({@code jgit_*.buf}, written in each project's folder for archives too
     * big for memory) that a killed server left behind.
     */
    @Override
    public void sweepLeftovers() throws IOException {
        Path projects = dataDir.projects();
        if (!Files.isDirectory(projects)) {
            return;
        }
        try (var folders = Files.newDirectoryStream(projects, Files::isDirectory)) {
            for (Path folder : folders) {
                try (var buffers = Files.newDirectoryStream(folder, "jgit_*.buf")) {
                    for (Path buffer : buffers) {
                        Files.deleteIfExists(buffer);
                    }
                }
            }
        }
    }
}
