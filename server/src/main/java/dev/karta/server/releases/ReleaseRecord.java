package dev.karta.server.releases;

import dev.karta.api.Release;
import java.time.Instant;

/**
 * A release row. What it was built from never changes after insert; only its activation times
 * ({@code activatedAt}: the last time it became active, null when never; {@code deactivatedAt}: the
 * last time it stopped being active) and retention's mark ({@code prunedAt}) do.
 * {@code trigger} says what made it ({@code git_push}, {@code deploy}, {@code upload}, {@code webhook:<delivery id>}, ...), {@code idempotencyKey} is the
 * {@code Idempotency-Key} of the request behind it, if any; {@code prevHash} and {@code hash} chain
 * it to the project's previous release (null until {@link ReleaseStore#insert} has chained it).
 * Its config vars are stored sealed beside it and read only where they are used (a harness's
 * environment); {@code configDigest} is null when it has none, {@code description} names what a
 * config change set and unset (null for builds).
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
        Instant prunedAt,
        String trigger,
        String actorKeyId,
        String idempotencyKey,
        String configDigest,
        String description,
        String prevHash,
        String hash) {

    /** This release, chained: with the hash of the release it follows and its own. */
    ReleaseRecord chained(String prevHash, String hash) {
        return new ReleaseRecord(id, projectId, number, commitSha, harness, buildKind, imageRef, contentDigest, source,
                deployId, createdAt, activatedAt, deactivatedAt, prunedAt, trigger, actorKeyId, idempotencyKey,
                configDigest, description, prevHash, hash);
    }

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
                deployId, createdAt, activatedAt, deactivatedAt, unavailableReason == null, unavailableReason,
                trigger, actorKeyId, idempotencyKey, configDigest, description, prevHash, hash);
    }
}
