package dev.karta.api;

import java.time.Instant;

/**
 * An immutable, numbered snapshot of a project; {@code status} is "active" or "superseded".
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
        String trigger,
        String actorKeyId,
        String idempotencyKey,
        String configDigest,
        String description,
        String prevHash,
        String hash) {
}
