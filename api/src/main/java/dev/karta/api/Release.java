package dev.karta.api;

import java.time.Instant;

/**
 * An immutable, numbered snapshot of a project. {@code status} is "active" (the project serves
 * it), "superseded" (it was active, no longer is) or "built" (never activated: built while the
 * project was pinned). {@code activatedAt} is the last time it became active (null: never),
 * {@code deactivatedAt} the last time it stopped being active. {@code activatable} false, with
 * {@code unavailableReason}, marks a release that can no longer be activated (its files are gone);
 * servers before pins did not send it (null).
 */
public record Release(
        String version,
        int number,
        String commitSha,
        String status,
        String harness,
        String buildKind,
        String imageRef,
        String contentDigest,
        String source,
        String deployId,
        Instant createdAt,
        Instant activatedAt,
        Instant deactivatedAt,
        Boolean activatable,
        String unavailableReason) {
}
