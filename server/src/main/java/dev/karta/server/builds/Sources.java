package dev.karta.server.builds;

import dev.karta.server.build.BuildFailed;
import dev.karta.server.build.BuildLog;
import dev.karta.server.build.ReleaseFiles;
import dev.karta.server.build.Tree;
import dev.karta.server.deploys.DeployRecord;
import dev.karta.server.deploys.DeployStore;
import dev.karta.server.repos.BoundRepos;
import dev.karta.server.repos.GitRepos;
import java.io.IOException;
import java.io.InputStream;
import java.util.Optional;

/**
 * Obtains the source tree of a deploy when its build runs, always through {@link ReleaseFiles}
 * (and so through the materializer's checks), whatever the door: an upload's tree was stored when
 * it arrived (and is extracted again from its stored archive if it has gone since); a pushed or
 * named commit is exported from the project's git repository as an archive and stored like an
 * upload; a webhook's commit, or a named commit of a bound project, comes from the bound
 * repository. Every archive a build stores is recorded on its deploy, so each release keeps one.
 */
public final class Sources {
    private final ReleaseFiles files;
    private final GitRepos repos;
    private final BoundRepos bound;
    private final DeployStore deploys;

    public Sources(ReleaseFiles files, GitRepos repos, BoundRepos bound, DeployStore deploys) {
        this.files = files;
        this.repos = repos;
        this.bound = bound;
        this.deploys = deploys;
    }

    public Tree treeOf(DeployRecord deploy, BuildLog log) throws IOException {
        return switch (deploy.source()) {
            case UPLOAD -> uploaded(deploy, log);
            case GIT_PUSH -> committed(deploy, log);
            // A bound project pulls named commits from its binding; an unbound one from its own repository.
            case DEPLOY -> bound.isBound(deploy.projectId())
                    ? bound.export(deploy, log::line, archive -> store(deploy, archive))
                    : committed(deploy, log);
            case WEBHOOK -> bound.export(deploy, log::line, archive -> store(deploy, archive));
        };
    }

    private Tree uploaded(DeployRecord deploy, BuildLog log) throws IOException {
        if (deploy.contentDigest() != null) {
            Optional<Tree> stored = files.checkOut(deploy.contentDigest());
            if (stored.isPresent()) {
                return stored.get();
            }
        }
        Optional<InputStream> archive = deploy.artifact() == null ? Optional.empty()
                : files.openArchive(deploy.artifact());
        if (archive.isEmpty()) {
            throw new BuildFailed("the uploaded archive of this deploy is no longer stored; publish again");
        }
        log.line("Materializing the stored archive sha256:" + deploy.artifact() + " again");
        try (InputStream in = archive.get()) {
            return store(deploy, in);
        }
    }

    /** A commit of the project's own repository (filled by {@code git push}). */
    private Tree committed(DeployRecord deploy, BuildLog log) throws IOException {
        return repos.export(deploy.projectId(), deploy.commitSha(), log::line, archive -> store(deploy, archive));
    }

    /**
     * Runs an archive of any door through the materializer's checks into the release files, keeps
     * the archive and its tree, and records the archive on the deploy when it has none yet.
     */
    private Tree store(DeployRecord deploy, InputStream gzipTar) throws IOException {
        try (ReleaseFiles.Incoming incoming = files.receive(gzipTar, Long.MAX_VALUE)) {
            Tree tree = incoming.extract();
            incoming.keep();
            if (deploy.artifact() == null) {
                deploys.recordArtifact(deploy.id(), incoming.artifact());
            }
            return tree;
        }
    }
}
