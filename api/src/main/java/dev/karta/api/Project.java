package dev.karta.api;

import java.time.Instant;
import java.util.List;

/**
 * A project as the API shows it. {@code url} is stable across releases; {@code currentRelease}
 * and {@code repo} are null until a release is active or a repository is bound.
 * {@code pinned} is null unless a rollback pinned the project (see {@link Pin}).
 * {@code liveSessions} lists the active release and every other release that live sessions are
 * still pinned to (draining), active first, then newest first; empty before the first release.
 */
public record Project(
        String name,
        String url,
        String gitUrl,
        CurrentRelease currentRelease,
        RepoBinding repo,
        List<ReleaseSessions> liveSessions,
        Instant createdAt,
        Pin pinned) {

    public Project {
        liveSessions = liveSessions == null ? List.of() : List.copyOf(liveSessions);
    }

    /** The release a project serves now. */
    public record CurrentRelease(String version, String commitSha) {
    }

    /**
     * How many live sessions (running, or idle and not timed out) are pinned to one release;
     * {@code active} marks the release the project serves now, the others are draining.
     */
    public record ReleaseSessions(String version, boolean active, long sessions) {
    }
}
