package dev.karta.server.ingest.github;

import dev.karta.server.Config.ArchiveLimits;
import dev.karta.server.DataDir;
import dev.karta.server.build.BuildFailed;
import dev.karta.server.build.Materializer;
import dev.karta.server.http.ApiError;
import dev.karta.server.ingest.git.CommitArchive;
import dev.karta.server.ingest.git.GitRepos;
import java.io.IOException;
import java.io.InputStream;
import java.io.InterruptedIOException;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HexFormat;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Consumer;
import org.eclipse.jgit.api.Git;
import org.eclipse.jgit.api.errors.GitAPIException;
import org.eclipse.jgit.api.errors.InvalidRemoteException;
import org.eclipse.jgit.errors.NoRemoteRepositoryException;
import org.eclipse.jgit.errors.NotSupportedException;
import org.eclipse.jgit.lib.AbbreviatedObjectId;
import org.eclipse.jgit.lib.Constants;
import org.eclipse.jgit.lib.ObjectId;
import org.eclipse.jgit.lib.ObjectReader;
import org.eclipse.jgit.lib.Repository;
import org.eclipse.jgit.storage.file.FileRepositoryBuilder;
import org.eclipse.jgit.transport.CredentialsProvider;
import org.eclipse.jgit.transport.RefSpec;
import org.eclipse.jgit.transport.SshTransport;
import org.eclipse.jgit.transport.Transport;
import org.eclipse.jgit.transport.TagOpt;
import org.eclipse.jgit.transport.UsernamePasswordCredentialsProvider;
import org.eclipse.jgit.util.TemporaryBuffer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Per-project caches of bound git repositories that are not on GitHub: a bare repository under
 * {@code {data_dir}/projects/{id}/bound/}, filled by fetching every branch and tag of the bound
 * URL with JGit (ssh URLs through the system's ssh client, {@link ExternalSsh}). Commits are
 * exported from it with {@link CommitArchive}, the same export the project's own repository
 * uses. Credentials from the URL's user info are handed to JGit apart from the URL, so they
 * appear in no message. A file URL may not point into the data directory (other projects'
 * repositories and the database live there).
 */
final class GitMirror {
    private static final Logger LOG = LoggerFactory.getLogger(GitMirror.class);
    private static final int IN_MEMORY_EXPORT = 4 << 20;
    private static final int FETCH_TIMEOUT_SECONDS = 120;
    private static final List<RefSpec> EVERYTHING = List.of(new RefSpec("+refs/heads/*:refs/heads/*"),
            new RefSpec("+refs/tags/*:refs/tags/*"));

    private final DataDir dataDir;
    private final ArchiveLimits limits;
    private final int attempts;
    private final Duration backoff;
    private final ExternalSsh ssh;
    private final Map<String, Object> locks = new ConcurrentHashMap<>();

    GitMirror(DataDir dataDir, ArchiveLimits limits, ExternalSsh ssh, int attempts, Duration backoff) {
        this.dataDir = dataDir;
        this.limits = limits;
        this.ssh = ssh;
        this.attempts = Math.max(1, attempts);
        this.backoff = backoff;
    }

    /** Refuses a file URL into the data directory: 400 at bind time. */
    void checkAllowed(RepoUrl url) {
        String problem = forbiddenPath(url);
        if (problem != null) {
            throw new ApiError(ApiError.Kind.BAD_REQUEST, "invalid_repo_url", problem);
        }
    }

    /**
     * The full SHA of the commit {@code hex} abbreviates, after fetching the repository: 422
     * {@code unknown_commit} or {@code ambiguous_commit}, or 422 {@code fetch_failed} with the reason.
     */
    String resolveCommit(String projectId, RepoUrl url, String hex) {
        try (Repository repo = open(projectId, url)) {
            fetch(projectId, url, repo, line -> { });
            List<ObjectId> commits = commitsMatching(repo, hex);
            if (commits.isEmpty()) {
                throw ApiError.unprocessable("unknown_commit", "commit " + hex + " is not on a branch or tag of "
                        + url.display() + ": push it there first");
            }
            if (commits.size() > 1) {
                throw ApiError.unprocessable("ambiguous_commit", "commit " + hex + " is ambiguous in " + url.display()
                        + " (" + commits.size() + " commits start with it): give more hex digits");
            }
            return commits.get(0).name();
        } catch (BuildFailed e) {
            throw ApiError.unprocessable("fetch_failed", e.getMessage());
        } catch (InterruptedIOException e) {
            throw ApiError.unavailable("interrupted while fetching " + url.display());
        } catch (IOException e) {
            throw new java.io.UncheckedIOException("cannot read the cache of " + url.display(), e);
        }
    }

    /**
     * Exports {@code sha} as a tar.gz for {@code reader}, fetching first when the cache does not
     * hold it. A commit the repository does not have, or a fetch that fails, is a {@link BuildFailed}.
     */
    <T> T export(String projectId, RepoUrl url, String sha, Consumer<String> log, GitRepos.ArchiveReader<T> reader)
            throws IOException {
        ObjectId id = ObjectId.fromString(sha);
        try (Repository repo = open(projectId, url)) {
            if (!isCommit(repo, id)) {
                fetch(projectId, url, repo, log);
            }
            if (!isCommit(repo, id) && !url.fetch().startsWith("file://")) {
                fetchOne(url, repo, id);
            }
            if (!isCommit(repo, id)) {
                throw new BuildFailed("commit " + sha + " is not in " + url.display()
                        + " (every branch and tag was fetched): push it there first");
            }
            TemporaryBuffer archive = new TemporaryBuffer.LocalFile(dataDir.project(projectId).toFile(),
                    IN_MEMORY_EXPORT);
            try {
                CommitArchive.Summary summary = CommitArchive.write(repo, id, archive, limits);
                archive.close();
                log.accept("Exported commit " + sha + " of " + url.display() + ": " + summary.members() + " files, "
                        + summary.bytes() + " bytes");
                if (!summary.submodules().isEmpty()) {
                    log.accept("warning: submodules are not deployed: " + String.join(", ", summary.submodules()));
                }
                try (InputStream in = archive.openInputStream()) {
                    return reader.read(in);
                }
            } finally {
                archive.destroy();
            }
        }
    }

    /** Removes every cache of a project (it was unbound, rebound or deleted). */
    void forget(String projectId) {
        Path dir = dataDir.project(projectId).resolve("bound");
        synchronized (lock(projectId)) {
            try {
                Materializer.deleteRecursively(dir);
            } catch (IOException e) {
                LOG.warn("could not delete the bound-repository cache {}", dir, e);
            }
        }
    }

    /** Fetches every branch and tag, retrying transient failures; one fetch per project at a time. */
    private void fetch(String projectId, RepoUrl url, Repository repo, Consumer<String> log) throws IOException {
        String problem = forbiddenPath(url);
        if (problem != null) {
            throw new BuildFailed(problem);
        }
        log.accept("Fetching " + url.display());
        synchronized (lock(projectId)) {
            for (int attempt = 1; ; attempt++) {
                try (Git git = Git.wrap(repo)) {
                    git.fetch()
                            .setRemote(url.connectUrl())
                            .setRefSpecs(EVERYTHING)
                            .setTagOpt(TagOpt.NO_TAGS)
                            .setRemoveDeletedRefs(true)
                            .setTimeout(FETCH_TIMEOUT_SECONDS)
                            .setCredentialsProvider(credentials(url))
                            .setTransportConfigCallback(this::configure)
                            .call();
                    return;
                } catch (GitAPIException | org.eclipse.jgit.api.errors.JGitInternalException e) {
                    String reason = reason(e, url);
                    if (Thread.currentThread().isInterrupted()) {
                        throw new InterruptedIOException("interrupted while fetching " + url.display());
                    }
                    if (permanent(e) || attempt >= attempts) {
                        throw new BuildFailed("could not fetch " + url.display()
                                + (attempt > 1 ? " after " + attempt + " attempts" : "") + ": " + reason);
                    }
                    Duration wait = backoff.multipliedBy(1L << (attempt - 1));
                    log.accept("Fetch attempt " + attempt + " failed (" + reason + "); retrying in " + wait.toMillis()
                            + " ms");
                    try {
                        Thread.sleep(wait.toMillis());
                    } catch (InterruptedException interrupted) {
                        Thread.currentThread().interrupt();
                        throw new InterruptedIOException("interrupted while fetching " + url.display());
                    }
                }
            }
        }
    }

    /**
     * Asks for one commit by id: servers that allow it serve commits no branch holds any more.
     * Not tried on file URLs, whose in-process server only prints a stack trace for it.
     */
    private void fetchOne(RepoUrl url, Repository repo, ObjectId id) {
        try (Git git = Git.wrap(repo)) {
            git.fetch()
                    .setRemote(url.connectUrl())
                    .setRefSpecs(new RefSpec(id.name() + ":refs/karta/wanted"))
                    .setTagOpt(TagOpt.NO_TAGS)
                    .setTimeout(FETCH_TIMEOUT_SECONDS)
                    .setCredentialsProvider(credentials(url))
                    .setTransportConfigCallback(this::configure)
                    .call();
        } catch (GitAPIException | RuntimeException e) {
            LOG.debug("fetching {} by id from {} failed: {}", id.name(), url.display(), reason(e, url));
        }
    }

    private void configure(Transport transport) {
        if (transport instanceof SshTransport sshTransport) {
            sshTransport.setSshSessionFactory(ssh);
        }
    }

    private static CredentialsProvider credentials(RepoUrl url) {
        return url.credentials().<CredentialsProvider>map(c -> new UsernamePasswordCredentialsProvider(c.user(),
                c.password())).orElse(null);
    }

    /** A failure that another attempt cannot fix: no such repository, no access, no transport. */
    private static boolean permanent(Throwable e) {
        if (e instanceof InvalidRemoteException) {
            return true;
        }
        for (Throwable t = e; t != null; t = t.getCause()) {
            if (t instanceof NoRemoteRepositoryException || t instanceof NotSupportedException) {
                return true;
            }
            String message = String.valueOf(t.getMessage()).toLowerCase(Locale.ROOT);
            if (message.contains("not authorized") || message.contains("authentication")
                    || message.contains("not found") || message.contains("host key verification failed")
                    || message.contains("permission denied")) {
                return true;
            }
        }
        return false;
    }

    /** The innermost useful message, with anything of the URL's credentials blanked out. */
    private static String reason(Throwable e, RepoUrl url) {
        Throwable deepest = e;
        while (deepest.getCause() != null && deepest.getCause() != deepest) {
            deepest = deepest.getCause();
        }
        String message = String.valueOf(e.getMessage());
        if (deepest != e && deepest.getMessage() != null && !message.contains(deepest.getMessage())) {
            message = message + " (" + deepest.getMessage() + ")";
        }
        if (url.fetch().contains("://")) {
            String info = URI.create(url.fetch()).getRawUserInfo();
            if (info != null && !info.isEmpty()) {
                message = message.replace(info, "***");
            }
        }
        String redacted = url.credentials().map(c -> c.password().isEmpty() ? null : c.password()).orElse(null);
        return redacted == null ? message : message.replace(redacted, "***");
    }

    private static List<ObjectId> commitsMatching(Repository repo, String hex) throws IOException {
        String wanted = hex.toLowerCase(Locale.ROOT);
        List<ObjectId> commits = new ArrayList<>();
        try (ObjectReader reader = repo.newObjectReader()) {
            Collection<ObjectId> candidates = wanted.length() == Constants.OBJECT_ID_STRING_LENGTH
                    ? List.of(ObjectId.fromString(wanted))
                    : reader.resolve(AbbreviatedObjectId.fromString(wanted));
            for (ObjectId id : candidates) {
                if (reader.has(id) && reader.open(id).getType() == Constants.OBJ_COMMIT) {
                    commits.add(id);
                }
            }
        }
        return commits;
    }

    private static boolean isCommit(Repository repo, ObjectId id) throws IOException {
        try (ObjectReader reader = repo.newObjectReader()) {
            return reader.has(id) && reader.open(id).getType() == Constants.OBJ_COMMIT;
        }
    }

    /** Opens the project's cache of {@code url}, creating it empty on first use. */
    private Repository open(String projectId, RepoUrl url) throws IOException {
        Path dir = dataDir.project(projectId).resolve("bound").resolve(digest(url.display()) + ".git");
        if (!Files.isRegularFile(dir.resolve(Constants.HEAD))) {
            synchronized (lock(projectId)) {
                if (!Files.isRegularFile(dir.resolve(Constants.HEAD))) {
                    Files.createDirectories(dir.getParent());
                    // Built aside and renamed into place: a crash never leaves half a repository.
                    Path staging = dir.resolveSibling(dir.getFileName() + ".creating");
                    Materializer.deleteRecursively(staging);
                    try (Repository repo = new FileRepositoryBuilder().setGitDir(staging.toFile()).setBare().build()) {
                        repo.create(true);
                    }
                    Files.move(staging, dir, StandardCopyOption.ATOMIC_MOVE);
                }
            }
        }
        return new FileRepositoryBuilder().setGitDir(dir.toFile()).setBare().setMustExist(true).build();
    }

    private Object lock(String projectId) {
        return locks.computeIfAbsent(projectId, id -> new Object());
    }

    /** Why a file URL may not be fetched, or null when it may (or is not a file URL). */
    private String forbiddenPath(RepoUrl url) {
        if (!url.fetch().startsWith("file://")) {
            return null;
        }
        Path path = Path.of(URI.create(url.fetch())).toAbsolutePath().normalize();
        Path root = dataDir.root().toAbsolutePath().normalize();
        boolean inside = path.startsWith(root);
        try {
            Path realRoot = root.toRealPath();
            Path realPath = Files.exists(path) ? path.toRealPath() : path;
            inside |= realPath.startsWith(realRoot) || path.startsWith(realRoot);
        } catch (IOException e) {
            // The data directory always exists while the server runs; keep the plain comparison.
        }
        return inside ? "file URLs may not point into the server's data directory" : null;
    }

    private static String digest(String text) {
        try {
            byte[] hash = MessageDigest.getInstance("SHA-256").digest(text.getBytes(StandardCharsets.UTF_8));
            return HexFormat.of().formatHex(hash, 0, 8);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
