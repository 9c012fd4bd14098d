package dev.karta.server.repos;

import dev.karta.server.Config.ArchiveLimits;
import dev.karta.server.build.BuildFailed;
import dev.karta.server.http.ApiError;
import dev.karta.server.process.ProcessLauncher;
import dev.karta.server.store.Digests;
import java.io.IOException;
import java.io.InputStream;
import java.io.InterruptedIOException;
import java.net.URI;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.Consumer;
import org.eclipse.jgit.api.Git;
import org.eclipse.jgit.api.errors.GitAPIException;
import org.eclipse.jgit.api.errors.InvalidRemoteException;
import org.eclipse.jgit.errors.NoRemoteRepositoryException;
import org.eclipse.jgit.errors.NotSupportedException;
import org.eclipse.jgit.lib.Constants;
import org.eclipse.jgit.lib.ObjectId;
import org.eclipse.jgit.lib.Repository;
import org.eclipse.jgit.transport.CredentialsProvider;
import org.eclipse.jgit.transport.RefSpec;
import org.eclipse.jgit.transport.SshTransport;
import org.eclipse.jgit.transport.TagOpt;
import org.eclipse.jgit.transport.Transport;
import org.eclipse.jgit.transport.TransportHttp;
import org.eclipse.jgit.transport.UsernamePasswordCredentialsProvider;
import org.eclipse.jgit.util.TemporaryBuffer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Per-project caches of bound git repositories that are not on GitHub: a bare repository under
 * {@code {data_dir}/projects/{id}/bound/}, filled by fetching every branch and tag of the bound
 * URL with JGit (ssh URLs through the system's ssh client, {@link ExternalSsh}). Commits are
 * exported from it with {@link CommitArchive}, the same export the project's own repository
 * uses. The binding's credentials are handed to JGit apart from the URL, so they appear in no
 * message. A file URL may not point into the data directory (other projects' repositories and the
 * database live there). Every fetch runs in an {@link Egress.Fetch}: HTTP through its checking
 * relays, ssh processes killed at its deadline; a network failure reads the same whatever it was.
 */
final class GitMirror {
    private static final Logger LOG = LoggerFactory.getLogger(GitMirror.class);
    private static final int IN_MEMORY_EXPORT = 4 << 20;
    /** The folder of a project's caches in the {@link RepoStore}, one repository per URL. */
    private static final String CACHES = "bound/";
    private static final List<RefSpec> EVERYTHING = List.of(new RefSpec("+refs/heads/*:refs/heads/*"),
            new RefSpec("+refs/tags/*:refs/tags/*"));

    private final RepoStore store;
    private final ArchiveLimits limits;
    private final int attempts;
    private final Duration backoff;
    private final List<String> sshCommand;
    private final ProcessLauncher launcher;
    private final Egress egress;
    private final Map<String, ReentrantLock> locks = new ConcurrentHashMap<>();

    GitMirror(RepoStore store, ArchiveLimits limits, List<String> sshCommand, ProcessLauncher launcher, Egress egress,
              int attempts, Duration backoff) {
        this.store = store;
        this.limits = limits;
        this.sshCommand = List.copyOf(sshCommand);
        this.launcher = launcher;
        this.egress = egress;
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
     * The full SHA of the commit {@code hex} abbreviates, after fetching the repository within
     * {@code within}: 422 {@code unknown_commit} or {@code ambiguous_commit}, or 422
     * {@code fetch_failed} with the reason; empty when the fetch did not end in time.
     */
    Optional<String> resolveCommit(String projectId, RepoUrl url, RepoUrl.Credentials credentials, String hex,
                                   Duration within) {
        try (Repository repo = open(projectId, url); Egress.Fetch fetch = egress.begin(within)) {
            try {
                fetch(projectId, url, credentials, repo, line -> { }, fetch);
            } catch (BuildFailed e) {
                if (fetch.timedOut()) {
                    return Optional.empty();
                }
                throw e;
            }
            List<ObjectId> commits = GitRepos.commitsMatching(repo, hex);
            if (commits.isEmpty()) {
                throw ApiError.unprocessable("unknown_commit", "commit " + hex + " is not on a branch or tag of "
                        + url.display() + ": push it there first");
            }
            if (commits.size() > 1) {
                throw ApiError.unprocessable("ambiguous_commit", "commit " + hex + " is ambiguous in " + url.display()
                        + " (" + commits.size() + " commits start with it): give more hex digits");
            }
            return Optional.of(commits.get(0).name());
        } catch (BuildFailed e) {
            throw ApiError.unprocessable("fetch_failed", e.getMessage());
        } catch (InterruptedIOException e) {
            throw ApiError.unavailable("interrupted while fetching " + url.display());
        } catch (IOException e) {
            throw new java.io.UncheckedIOException("cannot read the cache of " + url.display(), e);
        }
    }

    /**
     * Exports {@code sha} (full, or abbreviated when its resolution was left to the build) as a
     * tar.gz for {@code reader}, fetching first when the cache does not hold it. A commit the
     * repository does not have, or a fetch that fails or outlasts the deadline, is a
     * {@link BuildFailed}.
     */
    <T> T export(String projectId, RepoUrl url, RepoUrl.Credentials credentials, String sha, Consumer<String> log,
                 GitRepos.ArchiveReader<T> reader) throws IOException {
        try (Repository repo = open(projectId, url); Egress.Fetch fetch = egress.begin()) {
            ObjectId id = find(repo, sha, url);
            if (id == null) {
                fetch(projectId, url, credentials, repo, log, fetch);
                id = find(repo, sha, url);
            }
            if (id == null && sha.length() == Constants.OBJECT_ID_STRING_LENGTH && !url.fetch().startsWith("file://")) {
                fetchOne(url, credentials, repo, ObjectId.fromString(sha), fetch);
                id = find(repo, sha, url);
            }
            if (id == null) {
                throw new BuildFailed("commit " + sha + " is not in " + url.display()
                        + " (every branch and tag was fetched): push it there first");
            }
            TemporaryBuffer archive = store.exportBuffer(projectId, IN_MEMORY_EXPORT);
            try {
                CommitArchive.Summary summary = CommitArchive.write(repo, id, archive, limits);
                archive.close();
                log.accept("Exported commit " + id.name() + " of " + url.display() + ": " + summary.members()
                        + " files, " + summary.bytes() + " bytes");
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

    /** The one commit {@code sha} names in the cache, or null; an ambiguous abbreviation fails the build. */
    private static ObjectId find(Repository repo, String sha, RepoUrl url) throws IOException {
        List<ObjectId> commits = GitRepos.commitsMatching(repo, sha);
        if (commits.size() > 1) {
            throw new BuildFailed("commit " + sha + " is ambiguous in " + url.display() + " (" + commits.size()
                    + " commits start with it): deploy the full SHA");
        }
        return commits.isEmpty() ? null : commits.get(0);
    }

    /** Removes every cache of a project (it was unbound, rebound or deleted). */
    void forget(String projectId) {
        ReentrantLock lock = lock(projectId);
        lock.lock();
        try {
            store.delete(projectId, CACHES);
        } finally {
            lock.unlock();
        }
    }

    /**
     * Fetches every branch and tag, retrying transient failures, within the deadline of
     * {@code fetch}; one fetch per project at a time (waiting for another one counts against the
     * deadline too).
     */
    private void fetch(String projectId, RepoUrl url, RepoUrl.Credentials credentials, Repository repo,
                       Consumer<String> log, Egress.Fetch fetch) throws IOException {
        String problem = forbiddenPath(url);
        if (problem == null) {
            problem = notAllowed(url);
        }
        if (problem != null) {
            throw new BuildFailed(problem);
        }
        log.accept("Fetching " + url.display());
        ReentrantLock lock = lock(projectId);
        try {
            if (!lock.tryLock(fetch.deadline().toMillis(), TimeUnit.MILLISECONDS)) {
                throw new BuildFailed("could not fetch " + url.display() + ": timed out after "
                        + fetch.deadline().toSeconds() + " s waiting for another fetch of it");
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new InterruptedIOException("interrupted while fetching " + url.display());
        }
        try {
            for (int attempt = 1; ; attempt++) {
                try (Git git = Git.wrap(repo)) {
                    git.fetch()
                            .setRemote(url.connectUrl())
                            .setRefSpecs(EVERYTHING)
                            .setTagOpt(TagOpt.NO_TAGS)
                            .setRemoveDeletedRefs(true)
                            .setTimeout(timeoutSeconds())
                            .setCredentialsProvider(provider(credentials))
                            .setTransportConfigCallback(transport -> configure(transport, fetch))
                            .call();
                    store.added(repo);
                    return;
                } catch (GitAPIException | org.eclipse.jgit.api.errors.JGitInternalException e) {
                    String reason = reason(e, url, credentials);
                    if (fetch.timedOut()) {
                        throw new BuildFailed("could not fetch " + url.display() + ": timed out after "
                                + fetch.deadline().toSeconds() + " s (the fetch deadline)");
                    }
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
        } finally {
            lock.unlock();
        }
    }

    /**
     * Asks for one commit by id: servers that allow it serve commits no branch holds any more.
     * Not tried on file URLs, whose in-process server only prints a stack trace for it.
     */
    private void fetchOne(RepoUrl url, RepoUrl.Credentials credentials, Repository repo, ObjectId id,
                          Egress.Fetch fetch) {
        try (Git git = Git.wrap(repo)) {
            git.fetch()
                    .setRemote(url.connectUrl())
                    .setRefSpecs(new RefSpec(id.name() + ":refs/karta/wanted"))
                    .setTagOpt(TagOpt.NO_TAGS)
                    .setTimeout(timeoutSeconds())
                    .setCredentialsProvider(provider(credentials))
                    .setTransportConfigCallback(transport -> configure(transport, fetch))
                    .call();
        } catch (GitAPIException | RuntimeException e) {
            LOG.debug("fetching {} by id from {} failed: {}", id.name(), url.display(), reason(e, url, credentials));
        }
    }

    /** HTTP through the fetch's checking relays; ssh through the system's client, killed at the deadline. */
    private void configure(Transport transport, Egress.Fetch fetch) {
        if (transport instanceof TransportHttp http) {
            http.setHttpConnectionFactory(fetch.jgitConnections());
        }
        if (transport instanceof SshTransport sshTransport) {
            sshTransport.setSshSessionFactory(new ExternalSsh(sshCommand, egress.connectTimeout(),
                    egress.readTimeout(), launcher, fetch::track));
        }
    }

    /** JGit's per-read timeout, in whole seconds (at least one). */
    private int timeoutSeconds() {
        return (int) Math.max(1, egress.readTimeout().toSeconds());
    }

    /**
     * Why a binding may not be fetched any more, or null: ssh, git and file URLs only under an
     * operator's allowed prefix (bindings made before these rules are refused here).
     */
    private String notAllowed(RepoUrl url) {
        String fetch = url.fetch();
        if (egress.allowed(fetch)) {
            return null;
        }
        boolean http = fetch.startsWith("https://") || fetch.startsWith("http://");
        return http ? null : "fetching " + url.display() + " is not allowed: only https URLs, or URLs under an "
                + "operator's --allow-repo-url prefix, are fetched";
    }

    private static CredentialsProvider provider(RepoUrl.Credentials credentials) {
        return credentials == null ? null : new UsernamePasswordCredentialsProvider(credentials.user(),
                credentials.password());
    }

    /** A failure that another attempt cannot fix: no such repository, no access, no transport. */
    private static boolean permanent(Throwable e) {
        if (network(e)) {
            return false;
        }
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

    /** Whether {@code e} is a failure to reach or to keep talking to the host (of whatever kind). */
    private static boolean network(Throwable e) {
        for (Throwable t = e; t != null; t = t.getCause()) {
            if (t instanceof java.net.SocketException || t instanceof java.net.UnknownHostException
                    || t instanceof java.net.SocketTimeoutException || t instanceof java.io.EOFException
                    || t instanceof javax.net.ssl.SSLException) {
                return true;
            }
            String message = String.valueOf(t.getMessage()).toLowerCase(Locale.ROOT);
            if (message.contains("premature eof") || message.contains("connection reset")
                    || message.contains("cannot open git-upload-pack")) {
                return true;
            }
            if (t.getCause() == t) {
                break;
            }
        }
        return false;
    }

    /**
     * The innermost useful message, with the credentials blanked out. Every network failure gives
     * the same words, so a fetch cannot tell an open port from a closed or a filtered one.
     */
    private static String reason(Throwable e, RepoUrl url, RepoUrl.Credentials credentials) {
        if (network(e)) {
            return "could not fetch the repository (no answer from its host)";
        }
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
        String redacted = credentials == null || credentials.password().isEmpty() ? null : credentials.password();
        return redacted == null ? message : message.replace(redacted, "***");
    }

    /** Opens the project's cache of {@code url}, creating it empty on first use. */
    private Repository open(String projectId, RepoUrl url) throws IOException {
        return store.open(projectId, CACHES + digest(url.display()), null);
    }

    private ReentrantLock lock(String projectId) {
        return locks.computeIfAbsent(projectId, id -> new ReentrantLock());
    }

    /** Why a file URL may not be fetched, or null when it may (or is not a file URL). */
    private String forbiddenPath(RepoUrl url) {
        if (!url.fetch().startsWith("file://")) {
            return null;
        }
        boolean inside = store.holds(Path.of(URI.create(url.fetch())));
        return inside ? "file URLs may not point into the server's data directory" : null;
    }

    private static String digest(String text) {
        return Digests.sha256Hex(text).substring(0, 16);
    }
}
