package dev.karta.server.ingest;

import dev.karta.server.DataDir;
import dev.karta.server.build.BuildFailed;
import dev.karta.server.build.BuildLog;
import dev.karta.server.build.Materializer;
import dev.karta.server.build.Tree;
import dev.karta.server.deploys.DeployRecord;
import dev.karta.server.ingest.git.GitRepos;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;

/**
 * Obtains the source tree of a deploy when its build runs, always through the
 * {@link Materializer}, whatever the door: an upload's tree was materialized when it arrived (and
 * is materialized again from its stored archive if it has gone since); a pushed or named commit is
 * exported from the project's git repository as an archive and materialized like an upload.
 */
public final class Sources {
    private final DataDir dataDir;
    private final Materializer materializer;
    private final GitRepos repos;

    public Sources(DataDir dataDir, Materializer materializer, GitRepos repos) {
        this.dataDir = dataDir;
        this.materializer = materializer;
        this.repos = repos;
    }

    public Tree treeOf(DeployRecord deploy, BuildLog log) throws IOException {
        return switch (deploy.source()) {
            case UPLOAD -> uploaded(deploy, log);
            case GIT_PUSH, DEPLOY -> committed(deploy, log);
            default -> throw new BuildFailed("deploys from " + deploy.source().wireName() + " are not supported yet");
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

    /**
     * A commit of the project's own repository (filled by {@code git push}). Seam for bound
     * repositories (issue 5): a DEPLOY of a bound project fetches the commit from there instead.
     */
    private Tree committed(DeployRecord deploy, BuildLog log) throws IOException {
        return repos.export(deploy.projectId(), deploy.commitSha(), log::line, this::materialize);
    }

    /** Runs an archive of any door through the materialization checks into the shared tree store. */
    public Tree materialize(InputStream gzipTar) throws IOException {
        Files.createDirectories(dataDir.trees());
        return materializer.materialize(gzipTar, dataDir.trees());
    }
}
