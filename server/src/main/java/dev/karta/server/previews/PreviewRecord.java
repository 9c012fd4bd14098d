package dev.karta.server.previews;

import dev.karta.api.Preview;
import java.time.Instant;

/**
 * A preview row with its current release and its latest build. {@link #status()} is derived: an
 * expired preview is {@code expired}; otherwise its latest build decides ({@code building} while
 * queued or building, {@code failed} when it failed or was canceled, {@code ready} when it
 * succeeded), so a failed push shows {@code failed} while new sessions still get the last good
 * release.
 */
record PreviewRecord(
        String id,
        String projectId,
        String projectName,
        String orgId,
        String name,
        int prNumber,
        String commitSha,
        String currentReleaseId,
        Integer currentSeq,
        String origin,
        Instant createdAt,
        Instant lastPushAt,
        Instant expiresAt,
        Instant expiredAt,
        String expireReason,
        String deployId,
        String deployStatus,
        String deployError) {

    static final String BUILDING = "building";
    static final String READY = "ready";
    static final String FAILED = "failed";
    static final String EXPIRED = "expired";

    boolean expired() {
        return expiredAt != null;
    }

    String status() {
        if (expired()) {
            return EXPIRED;
        }
        if (deployStatus == null) {
            return currentSeq == null ? BUILDING : READY;
        }
        return switch (deployStatus) {
            case "succeeded" -> READY;
            case "failed", "canceled" -> FAILED;
            default -> BUILDING;
        };
    }

    /** {@code pr-42.2}, or null before the first successful build. */
    String release() {
        return currentSeq == null ? null : name + "." + currentSeq;
    }

    Preview toWire(String url) {
        return new Preview(name, projectName, url, status(), release(), commitSha, expired() ? null : expiresAt,
                prNumber, origin, deployId, FAILED.equals(status()) ? deployError : null, createdAt, lastPushAt,
                expiredAt, expireReason);
    }
}
