package dev.karta.api;

import java.time.Instant;

/**
 * A project as the API shows it. {@code url} is stable across releases; {@code currentRelease}
 * and {@code repo} are null until a release is active or a repository is bound.
 */
public record Project(
        String name,
        String url,
        String gitUrl,
        CurrentRelease currentRelease,
        RepoBinding repo,
        Instant createdAt) {

    /** The release a project serves now. */
    public record CurrentRelease(String version, String commitSha) {
    }
}
