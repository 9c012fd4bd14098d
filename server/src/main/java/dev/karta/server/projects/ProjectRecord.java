package dev.karta.server.projects;

import java.time.Instant;

/**
 * A project row with its current release (version number and commit, both null until a release
 * is active) and its repository binding (null when unbound).
 */
public record ProjectRecord(
        String id,
        String orgId,
        String name,
        String deployBranch,
        Instant createdAt,
        String currentReleaseId,
        Integer currentNumber,
        String currentCommit,
        String repoUrl,
        String repoBranch) {
}
