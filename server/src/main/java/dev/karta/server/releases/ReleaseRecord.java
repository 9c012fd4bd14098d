package dev.karta.server.releases;

import dev.karta.api.Release;
import java.time.Instant;

/** A release row. Never updated after insert. */
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
        Instant activatedAt) {

    public String version() {
        return "v" + number;
    }

    /** The wire form; a release is active exactly when the project's pointer names it. */
    public Release toWire(String currentReleaseId) {
        return new Release(version(), number, commitSha, id.equals(currentReleaseId) ? "active" : "superseded",
                harness, buildKind, imageRef, contentDigest, source, deployId, createdAt, activatedAt);
    }
}
