package dev.karta.server.releases;

import dev.karta.api.Release;
import java.time.Instant;

/**
 * A release row. What it was built from never changes after insert; only its activation times
 * ({@code activatedAt}: the last time it became active, null when never; {@code deactivatedAt}: the
 * last time it stopped being active) and retention's mark ({@code prunedAt}) do.
 */
public record ReleaseRecord(
        String id,
        String projectId,
        int number,
        String commitSha,
        String harness,
        String buildKind,
        String imageRef,
        String contentDigest,
        String source,
        String deployId,
        Instant createdAt,
        Instant activatedAt,
        Instant deactivatedAt,
        Instant prunedAt) {

    public String version() {
        return "v" + number;
    }

    /**
     * The wire form: "active" exactly when the project's pointer names it, "built" when it was never
     * active, "superseded" otherwise. {@code unavailableReason} is null when it can be activated.
     */
    public Release toWire(String currentReleaseId, String unavailableReason) {
        String status = id.equals(currentReleaseId) ? "active" : activatedAt == null ? "built" : "superseded";
        return new Release(version(), number, commitSha, status, harness, buildKind, imageRef, contentDigest, source,
                deployId, createdAt, activatedAt, deactivatedAt, unavailableReason == null, unavailableReason);
    }
}
