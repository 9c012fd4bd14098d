package dev.karta.api;

import java.time.Instant;

/** An immutable, numbered snapshot of a project; {@code status} is "active" or "superseded". */
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
        Instant activatedAt) {
}
