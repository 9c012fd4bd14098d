package dev.karta.server.repos;

import dev.karta.api.Commits;
import dev.karta.api.ReleaseDiff;
import dev.karta.server.Config.ArchiveLimits;
import dev.karta.server.build.BuildFailed;
import dev.karta.server.http.ApiError;
import dev.karta.server.projects.ProjectRecord;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.function.Consumer;
import java.util.regex.Pattern;
import org.eclipse.jgit.errors.MissingObjectException;
import org.eclipse.jgit.lib.AbbreviatedObjectId;
import org.eclipse.jgit.lib.Constants;
import org.eclipse.jgit.lib.ObjectId;
import org.eclipse.jgit.lib.ObjectReader;
import org.eclipse.jgit.lib.Repository;
import org.eclipse.jgit.revwalk.RevCommit;
import org.eclipse.jgit.revwalk.RevWalk;
import org.eclipse.jgit.util.TemporaryBuffer;

/**
 * The bare repositories behind {@code /git/{project}.git}, one per project in the {@link RepoStore}.
 * Resolves abbreviated commit SHAs and exports a commit's tree as an archive.
 */
public final class GitRepos {
    /** What deploy-by-commit accepts: 4 to 40 hex digits of a SHA-1 commit id. */
    public static final Pattern COMMIT_HEX = Pattern.compile("[0-9a-fA-F]{4,40}");
    /** Exported archives up to this size never touch the disk. */
    private static final int IN_MEMORY_EXPORT = 4 << 20;

    /** Reads an exported archive; {@code Sources} hands it to the materializer. */
    @FunctionalInterface
    public interface ArchiveReader<T> {
        T read(InputStream gzipTar) throws IOException;
    }

    private final RepoStore store;
    private final ArchiveLimits limits;

    public GitRepos(RepoStore store, ArchiveLimits limits) {
        this.store = store;
        this.limits = limits;
    }

    /**
     * Opens a project's repository, creating it empty on first use with {@code HEAD} on the
     * project's deploy branch (so a clone checks that branch out). The caller closes it.
     */
    public Repository open(ProjectRecord project) throws IOException {
        return store.open(project.id(), RepoStore.PUSHED, project.deployBranch());
    }

    /** The project's repository when something was ever pushed to it (or it was opened for git). */
    Optional<Repository> openExisting(String projectId) throws IOException {
        return store.openExisting(projectId, RepoStore.PUSHED);
    }

    /**
     * The full SHA of the commit that {@code hex} (4 to 40 hex digits) names in the project's
     * repository; 422 saying how to get it there when no commit matches, or when several do.
     */
    public String resolveCommit(ProjectRecord project, String hex) {
        List<ObjectId> commits = List.of();
        try {
            Optional<Repository> found = openExisting(project.id());
            if (found.isPresent()) {
                try (Repository repo = found.get()) {
                    commits = commitsMatching(repo, hex);
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read the repository of " + project.name(), e);
        }
        if (commits.isEmpty()) {
            throw ApiError.unprocessable("unknown_commit", "commit " + hex + " is not in " + project.name()
                    + "'s repository: git push karta <branch> first (pushes to '" + project.deployBranch()
                    + "' also deploy)");
        }
        if (commits.size() > 1) {
            throw ApiError.unprocessable("ambiguous_commit", "commit " + hex + " is ambiguous in " + project.name()
                    + "'s repository (" + commits.size() + " commits start with it): give more hex digits");
        }
        return commits.get(0).name();
    }

    /**
     * The commits of {@code repo} that {@code hex} (4 to 40 hex digits, any case) names: none, one,
     * or several when an abbreviation is ambiguous. Objects that are not commits do not count.
     */
    public static List<ObjectId> commitsMatching(Repository repo, String hex) throws IOException {
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

    /**
     * The commit range between two releases' commits in the project's repository: the commits
     * reachable from {@code toSha} and not from {@code fromSha} ({@code added}, newest first) and
     * the other way round ({@code removed}). At most {@code listed} of each are listed and
     * {@code counted} counted (the count then says "at least"). Unavailable, with a note, when
     * either is not a commit of the repository (an upload's content digest, a bound repository's
     * commit).
     */
    public ReleaseDiff.Commits commitsBetween(ProjectRecord project, String fromSha, String toSha, int listed,
                                              int counted) {
        try {
            Optional<Repository> found = openExisting(project.id());
            if (found.isEmpty()) {
                return unavailable("commit " + Commits.shortSha(fromSha) + " is not in " + project.name()
                        + "'s repository: nothing was ever pushed to it");
            }
            try (Repository repo = found.get(); RevWalk walk = new RevWalk(repo)) {
                RevCommit from = commit(walk, fromSha);
                RevCommit to = commit(walk, toSha);
                String missing = from == null ? fromSha : to == null ? toSha : null;
                if (missing != null) {
                    return unavailable("commit " + Commits.shortSha(missing) + " is not in " + project.name()
                            + "'s repository");
                }
                Range added = range(walk, to, from, listed, counted);
                Range removed = range(walk, from, to, listed, counted);
                String note = added.count() >= counted || removed.count() >= counted
                        ? "counted up to " + counted + " commits each way" : null;
                return new ReleaseDiff.Commits(true, note, added.listed(), removed.listed(), added.count(),
                        removed.count());
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read the repository of " + project.name(), e);
        }
    }

    private static ReleaseDiff.Commits unavailable(String note) {
        return new ReleaseDiff.Commits(false, note, List.of(), List.of(), 0, 0);
    }

    /** The commit {@code sha} (40 hex digits) names, or null when it is none of this repository. */
    private static RevCommit commit(RevWalk walk, String sha) throws IOException {
        if (sha == null || !ObjectId.isId(sha.toLowerCase(Locale.ROOT))) {
            return null;
        }
        ObjectId id = ObjectId.fromString(sha.toLowerCase(Locale.ROOT));
        if (!walk.getObjectReader().has(id) || walk.getObjectReader().open(id).getType() != Constants.OBJ_COMMIT) {
            return null;
        }
        return walk.parseCommit(id);
    }

    private record Range(List<ReleaseDiff.Commit> listed, int count) {
    }

    private static Range range(RevWalk walk, RevCommit start, RevCommit except, int listed, int counted)
            throws IOException {
        walk.reset();
        walk.markStart(walk.parseCommit(start));
        walk.markUninteresting(walk.parseCommit(except));
        List<ReleaseDiff.Commit> commits = new ArrayList<>();
        int count = 0;
        for (RevCommit c : walk) {
            if (count >= counted) {
                break;
            }
            if (commits.size() < listed) {
                commits.add(new ReleaseDiff.Commit(c.name(), Commits.shortSha(c.name()), c.getShortMessage()));
            }
            count++;
        }
        return new Range(commits, count);
    }

    /**
     * Exports {@code commitSha} of the project's repository as a tar.gz (checked against the
     * archive limits while it is written) and hands it to {@code reader}. The archive stays in
     * memory up to {@value #IN_MEMORY_EXPORT} bytes and spills to a temporary file in the project's
     * scratch space beyond. A commit that is not there is a {@link BuildFailed}; notes go to {@code log}.
     */
    public <T> T export(String projectId, String commitSha, Consumer<String> log, ArchiveReader<T> reader)
            throws IOException {
        Optional<Repository> found = openExisting(projectId);
        if (found.isEmpty()) {
            throw new BuildFailed("the project has no git repository yet: git push karta <branch> first");
        }
        TemporaryBuffer archive = store.exportBuffer(projectId, IN_MEMORY_EXPORT);
        try {
            try (Repository repo = found.get()) {
                CommitArchive.Summary summary = CommitArchive.write(repo, ObjectId.fromString(commitSha), archive, limits);
                archive.close();
                log.accept("Exported commit " + commitSha + ": " + summary.members() + " files, " + summary.bytes()
                        + " bytes");
                if (!summary.submodules().isEmpty()) {
                    log.accept("warning: submodules are not deployed: " + String.join(", ", summary.submodules()));
                }
            } catch (MissingObjectException e) {
                throw new BuildFailed("commit " + commitSha + " is not in the project's repository");
            }
            try (InputStream in = archive.openInputStream()) {
                return reader.read(in);
            }
        } finally {
            archive.destroy();
        }
    }

    /** A push into {@code repo} ended with refs moved: see {@link RepoStore#added}. */
    public void added(Repository repo) {
        store.added(repo);
    }

    /** Watches the pack a push stores into {@code repo}, to take it back if every ref update is rejected. */
    public RepoStore.PushedPacks trackPacks(Repository repo) {
        return store.trackPacks(repo);
    }

    /** Removes a deleted project's repository. */
    public void delete(String projectId) {
        store.delete(projectId, RepoStore.PUSHED);
    }
}
