package dev.karta.server.repos;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.karta.server.Config;
import dev.karta.server.build.BuildFailed;
import dev.karta.server.deploys.DeployRecord;
import dev.karta.server.http.ApiError;
import dev.karta.server.process.ProcessLauncher;
import dev.karta.server.projects.ProjectRecord;
import java.io.IOException;
import java.time.Duration;
import java.util.Locale;
import java.util.Optional;
import java.util.Set;
import java.util.function.Consumer;

/**
 * Where a bound project's commits come from: a GitHub binding through the tarball API, any other
 * URL through a git fetch into the project's cache. Deploy-by-commit asks it to resolve a SHA
 * (full 40-hex SHAs are taken as given and checked when the build fetches them; shorter ones are
 * resolved now, through GitHub's commits API or after a fetch, within a few seconds), and
 * {@code Sources} asks it for the archive of a deploy's commit when the build runs. Every
 * outbound connection goes through one {@link Egress}.
 */
public final class BoundRepos {
    /** Tries per fetch (one, then retries after 0.5 s and 1 s) for network failures. */
    static final int FETCH_ATTEMPTS = 3;
    static final Duration FETCH_BACKOFF = Duration.ofMillis(500);

    private final Bindings bindings;
    private final Egress egress;
    private final GitHubApi github;
    private final GitMirror mirror;
    private final String operatorToken;
    private final Set<String> operatorTokenOwners;
    private final Duration resolveTimeout;

    public BoundRepos(RepoStore repoStore, Config.ArchiveLimits limits, Config.Repos settings, Bindings bindings,
                      ObjectMapper json, ProcessLauncher launcher) {
        this.bindings = bindings;
        this.egress = new Egress(settings);
        this.github = new GitHubApi(settings, egress, FETCH_ATTEMPTS, FETCH_BACKOFF, json);
        this.mirror = new GitMirror(repoStore, limits, settings.sshCommand(), launcher, egress, FETCH_ATTEMPTS,
                FETCH_BACKOFF);
        this.operatorToken = settings.githubToken();
        this.operatorTokenOwners = settings.githubTokenOwners();
        this.resolveTimeout = settings.resolveTimeout();
    }

    GitMirror mirror() {
        return mirror;
    }

    Egress egress() {
        return egress;
    }

    public boolean isBound(String projectId) {
        return bindings.ofProject(projectId).isPresent();
    }

    /**
     * The token sent to the GitHub API for a binding: its own; else the operator's, only for the
     * owners the operator listed (a tenant naming another owner's repository must not borrow the
     * operator's access to it); else none (anonymous).
     */
    /** Where to report a commit status for a project: its GitHub repository and the token to use. */
    public record StatusTarget(String owner, String repo, String token) {
        @Override
        public String toString() {
            return owner + "/" + repo;
        }
    }

    /**
     * The GitHub repository a project is bound to and a token that may write its commit statuses
     * (the binding's own, else the operator's for the owners it is lent to), or empty when the
     * project is not bound to GitHub or no token applies.
     */
    public Optional<StatusTarget> statusTarget(String projectId) {
        return bindings.ofProject(projectId)
                .filter(b -> b.url().kind() == RepoUrl.Kind.GITHUB)
                .flatMap(b -> Optional.ofNullable(githubToken(b))
                        .map(token -> new StatusTarget(b.url().owner(), b.url().repo(), token)));
    }

    String githubToken(Bindings.Binding binding) {
        if (binding.credentials() != null) {
            return binding.credentials().password();
        }
        String owner = binding.url().owner();
        return owner != null && operatorTokenOwners.contains(owner.toLowerCase(Locale.ROOT)) ? operatorToken : null;
    }

    /**
     * The full SHA that {@code hex} (4 to 40 hex digits) names in the project's bound repository,
     * or empty when the project is not bound. Unknown or ambiguous commits are a 422. A request
     * waits at most the resolve timeout: when the repository has not answered by then, {@code hex}
     * comes back as it is, and the build resolves it.
     */
    public Optional<String> resolveCommit(ProjectRecord project, String hex) {
        Optional<Bindings.Binding> found = bindings.ofProject(project.id());
        if (found.isEmpty()) {
            return Optional.empty();
        }
        String lower = hex.toLowerCase(Locale.ROOT);
        if (lower.length() == 40) {
            return Optional.of(lower);
        }
        Bindings.Binding binding = found.get();
        RepoUrl url = binding.url();
        Optional<String> full = url.kind() == RepoUrl.Kind.GITHUB
                ? github.resolveCommit(url.owner(), url.repo(), lower, githubToken(binding), resolveTimeout)
                : mirror.resolveCommit(project.id(), url, binding.credentials(), lower, resolveTimeout);
        return Optional.of(full.orElse(lower));
    }

    /**
     * Obtains the archive of the deploy's commit from the project's binding and hands it to
     * {@code reader}. A project that is not bound (any more) fails the build with that reason. An
     * abbreviated SHA (left unresolved when the deploy was requested) is resolved first.
     */
    public <T> T export(DeployRecord deploy, Consumer<String> log, GitRepos.ArchiveReader<T> reader)
            throws IOException {
        Bindings.Binding binding = bindings.ofProject(deploy.projectId()).orElseThrow(() -> new BuildFailed(
                "project " + deploy.projectName() + " is not bound to a repository any more; bind it again"));
        RepoUrl url = binding.url();
        String sha = deploy.commitSha().toLowerCase(Locale.ROOT);
        if (url.kind() == RepoUrl.Kind.GITHUB) {
            String token = githubToken(binding);
            if (sha.length() < 40) {
                String given = sha;
                try {
                    sha = github.resolveCommit(url.owner(), url.repo(), sha, token, egress.fetchDeadline())
                            .orElseThrow(() -> new BuildFailed("could not resolve commit " + given + " of "
                                    + url.display() + ": timed out"));
                } catch (ApiError e) {
                    throw new BuildFailed(e.getMessage());
                }
                log.accept("Resolved commit " + given + " to " + sha);
            }
            return github.tarball(url.owner(), url.repo(), sha, token, log, reader);
        }
        return mirror.export(deploy.projectId(), url, binding.credentials(), sha, log, reader);
    }
    /** Drops what is cached for a project (it was deleted or unbound). */
    public void forget(String projectId) {
        mirror.forget(projectId);
    }
}
