package dev.karta.api;

import java.time.Instant;

/**
 * An immutable, numbered snapshot of a project; {@code status} is "active" or "superseded".
 * {@code trigger} is what made it ({@code git_push}, {@code deploy}, {@code upload},
 * {@code webhook:<delivery id>}, ...); {@code hash} chains it to the project's previous release
 * ({@code prevHash}).
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
        String prevHash,
        String hash) {
}
