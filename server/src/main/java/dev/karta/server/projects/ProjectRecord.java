package dev.karta.server.projects;

import java.time.Instant;

/**
 * A project row with its current release (version number and commit, both null until a release
 * is active), its repository binding (null when unbound) and its pin (the pinned release's
 * number, the key that pinned and when; all null when not pinned).
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
        String repoBranch,
        Integer pinnedNumber,
        String pinnedBy,
        Instant pinnedAt) {

    public boolean pinned() {
        return pinnedNumber != null;
    }
}
