package dev.karta.server.deploys;

import dev.karta.server.events.Events;
import java.time.Instant;
import java.util.Map;

/**
 * A deploy row. {@code artifact} is the sha256 of its stored archive (an upload's from its arrival,
 * any other door's once its build has stored it) and {@code contentDigest} the tree an upload
 * materialized to when it was received (upload deploys only). {@code trigger} is what its release
 * records as having made it ({@code git_push}, {@code deploy}, {@code upload},
 * {@code webhook:<delivery id>}; null for deploys queued before it was recorded) and
 * {@code idempotencyKey} the {@code Idempotency-Key} of the request that created it, if any.
 */
public record DeployRecord(
        String id,
        String projectId,
        String projectName,
        String orgId,
        long seq,
        String commitSha,
        DeploySource source,
        DeployStatus status,
        String artifact,
        String contentDigest,
        String actorKeyId,
        Integer releaseNumber,
        String error,
        int attempts,
        Instant createdAt,
        Instant startedAt,
        Instant finishedAt,
        String trigger,
        String idempotencyKey,
        String previewId,
        String previewName) {

    /** Whether this deploy builds a preview (its release joins the preview's line, not production). */
    public boolean isPreview() {
        return previewId != null;
    }

    /** What events say about this deploy; {@code preview} names a preview build's preview, else null. */
    public Map<String, Object> eventData() {
        return Events.data("id", id, "commit_sha", commitSha, "source", source.wireName(),
                "trigger", trigger != null ? trigger : source.wireName(), "preview", previewName);
    }

    public dev.karta.api.Deploy toWire() {
        return new dev.karta.api.Deploy(id, projectName, commitSha, source.wireName(), status.wireName(),
                releaseNumber == null ? null : "v" + releaseNumber, error, createdAt, startedAt, finishedAt,
                previewName);
    }
}
