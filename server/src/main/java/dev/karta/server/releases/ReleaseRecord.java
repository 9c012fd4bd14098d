package dev.karta.server.releases;

import dev.karta.api.Release;
import java.time.Instant;

/**
 * A release row. Never updated after insert. Its config vars are stored sealed beside it and read
 * only where they are used (a harness's environment); {@code configDigest} is null when it has none.
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
        String configDigest,
        String description) {

    public String version() {
        return "v" + number;
    }

    /** The wire form; a release is active exactly when the project's pointer names it. */
    public Release toWire(String currentReleaseId) {
        return new Release(version(), number, commitSha, id.equals(currentReleaseId) ? "active" : "superseded",
                harness, buildKind, imageRef, contentDigest, source, deployId, createdAt, activatedAt, configDigest, description);
    }
}
