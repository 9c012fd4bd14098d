package dev.karta.server.ingest.github;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.karta.server.Config;
import dev.karta.server.DataDir;
import dev.karta.server.build.BuildFailed;
import dev.karta.server.deploys.DeployRecord;
import dev.karta.server.ingest.git.GitRepos;
import dev.karta.server.process.ProcessLauncher;
import dev.karta.server.projects.ProjectRecord;
import java.io.IOException;
import java.time.Duration;
import java.util.Locale;
import java.util.Optional;
import java.util.function.Consumer;

/**
 * Where a bound project's commits come from: a GitHub binding through the tarball API, any other
 * URL through a git fetch into the project's cache. Deploy-by-commit asks it to resolve a SHA
 * (full 40-hex SHAs are taken as given and checked when the build fetches them; shorter ones are
 * resolved now, through GitHub's commits API or after a fetch), and {@code Sources} asks it for
 * the archive of a deploy's commit when the build runs.
 */
public final class BoundRepos {
    /** Tries per fetch (one, then retries after 0.5 s and 1 s) for network failures. */
    static final int FETCH_ATTEMPTS = 3;
    static final Duration FETCH_BACKOFF = Duration.ofMillis(500);

    private final Bindings bindings;
    private final GitHubApi github;
    private final GitMirror mirror;

    public BoundRepos(DataDir dataDir, Config.ArchiveLimits limits, Config.Repos settings, Bindings bindings,
                      ObjectMapper json, ProcessLauncher launcher) {
        this.bindings = bindings;
        this.github = new GitHubApi(settings, FETCH_ATTEMPTS, FETCH_BACKOFF, json);
        this.mirror = new GitMirror(dataDir, limits, new ExternalSsh(settings.sshCommand(), launcher), FETCH_ATTEMPTS,
                FETCH_BACKOFF);
    }

    GitMirror mirror() {
        return mirror;
    }

    public boolean isBound(String projectId) {
        return bindings.ofProject(projectId).isPresent();
    }

    /**
     * The full SHA that {@code hex} (4 to 40 hex digits) names in the project's bound repository,
     * or empty when the project is not bound. Unknown or ambiguous commits are a 422.
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
        RepoUrl url = found.get().url();
        return Optional.of(url.kind() == RepoUrl.Kind.GITHUB
                ? github.resolveCommit(url.owner(), url.repo(), lower)
                : mirror.resolveCommit(project.id(), url, lower));
    }

    /**
     * Obtains the archive of the deploy's commit from the project's binding and hands it to
     * {@code reader}. A project that is not bound (any more) fails the build with that reason.
     */
    public <T> T export(DeployRecord deploy, Consumer<String> log, GitRepos.ArchiveReader<T> reader)
            throws IOException {
        Bindings.Binding binding = bindings.ofProject(deploy.projectId()).orElseThrow(() -> new BuildFailed(
                "project " + deploy.projectName() + " is not bound to a repository any more; bind it again"));
        RepoUrl url = binding.url();
        if (url.kind() == RepoUrl.Kind.GITHUB) {
            return github.tarball(url.owner(), url.repo(), deploy.commitSha(), log, reader);
        }
        return mirror.export(deploy.projectId(), url, deploy.commitSha(), log, reader);
    }

    /** Drops what is cached for a project (it was deleted or unbound). */
    public void forget(String projectId) {
        mirror.forget(projectId);
    }
}
