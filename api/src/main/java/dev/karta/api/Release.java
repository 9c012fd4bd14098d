package dev.karta.api;

import java.time.Instant;

/**
 * An immutable, numbered snapshot of a project. {@code status} is "active" (the project serves
 * it), "superseded" (it was active, no longer is) or "built" (never activated: built while the
 * project was pinned). {@code activatedAt} is the last time it became active (null: never),
 * {@code deactivatedAt} the last time it stopped being active. {@code activatable} false, with
 * {@code unavailableReason}, marks a release that can no longer be activated (its files are gone);
 * servers before pins did not send it (null).
 * {@code trigger} is what made it ({@code git_push}, {@code deploy}, {@code upload},
 * {@code webhook:<delivery id>}, ...); {@code hash} chains it to the project's previous release
 * ({@code prevHash}).
 * {@code source} is the door of its deploy, or "config" for a release a config change made (same
 * tree, new config vars; it carries the deploy id of the release whose tree it took).
 * {@code configDigest} is a keyed digest of its config vars (equal sets, equal digests; null when it
 * has none); {@code description} says what made it, by names only (null for builds).
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
        String unavailableReason,
        String trigger,
        String actorKeyId,
        String idempotencyKey,
        String configDigest,
        String description,
        String prevHash,
        String hash) {
}
