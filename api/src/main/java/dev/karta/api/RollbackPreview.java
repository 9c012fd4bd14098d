package dev.karta.api;

/**
 * Answer of a dry-run rollback ({@code "dry_run": true}); nothing changed. {@code diff} goes from
 * the active release to {@code target}; {@code liveSessionsOnActive} sessions would stay on the
 * active release (a session keeps its release for its whole life). {@code activatable} false,
 * with {@code unavailableReason}, means the rollback would be refused (409).
 */
public record RollbackPreview(
        String project,
        boolean dryRun,
        String active,
        String target,
        boolean pin,
        boolean activatable,
        String unavailableReason,
        long liveSessionsOnActive,
        ReleaseDiff diff) {
}
