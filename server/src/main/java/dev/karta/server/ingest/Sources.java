package dev.karta.server.ingest;

import dev.karta.server.DataDir;
import dev.karta.server.build.BuildFailed;
import dev.karta.server.build.BuildLog;
import dev.karta.server.build.Materializer;
import dev.karta.server.build.Tree;
import dev.karta.server.deploys.DeployRecord;
import dev.karta.server.ingest.git.GitRepos;
import dev.karta.server.ingest.github.BoundRepos;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;

/**
 * Obtains the source tree of a deploy when its build runs, always through the
 * {@link Materializer}, whatever the door: an upload's tree was materialized when it arrived (and
 * is materialized again from its stored archive if it has gone since); a pushed or named commit is
 * exported from the project's git repository as an archive and materialized like an upload; a
 * webhook's commit, or a named commit of a bound project, comes from the bound repository.
 */
public final class Sources {
    private final DataDir dataDir;
    private final Materializer materializer;
    private final GitRepos repos;
    private final BoundRepos bound;

    public Sources(DataDir dataDir, Materializer materializer, GitRepos repos, BoundRepos bound) {
        this.dataDir = dataDir;
        this.materializer = materializer;
        this.repos = repos;
        this.bound = bound;
    }

    public Tree treeOf(DeployRecord deploy, BuildLog log) throws IOException {
        return switch (deploy.source()) {
            case UPLOAD -> uploaded(deploy, log);
            case GIT_PUSH -> committed(deploy, log);
            // A bound project pulls named commits from its binding; an unbound one from its own repository.
            case DEPLOY -> bound.isBound(deploy.projectId())
                    ? bound.export(deploy, log::line, this::materialize)
                    : committed(deploy, log);
            case WEBHOOK -> bound.export(deploy, log::line, this::materialize);
        };
    }

    private Tree uploaded(DeployRecord deploy, BuildLog log) throws IOException {
        if (deploy.contentDigest() != null && Files.isDirectory(dataDir.tree(deploy.contentDigest()))) {
            return new Tree(dataDir.tree(deploy.contentDigest()), deploy.contentDigest(), -1, -1);
        }
        if (deploy.artifact() == null || !Files.isRegularFile(dataDir.artifact(deploy.artifact()))) {
            throw new BuildFailed("the uploaded archive of this deploy is no longer stored; publish again");
        }
        log.line("Materializing the stored archive sha256:" + deploy.artifact() + " again");
        try (InputStream archive = Files.newInputStream(dataDir.artifact(deploy.artifact()))) {
            return materialize(archive);
        }
    }

    /** A commit of the project's own repository (filled by {@code git push}). */
    private Tree committed(DeployRecord deploy, BuildLog log) throws IOException {
        return repos.export(deploy.projectId(), deploy.commitSha(), log::line, this::materialize);
    }

    /** Runs an archive of any door through the materialization checks into the shared tree store. */
    public Tree materialize(InputStream gzipTar) throws IOException {
        Files.createDirectories(dataDir.trees());
        return materializer.materialize(gzipTar, dataDir.trees());
    }
}
