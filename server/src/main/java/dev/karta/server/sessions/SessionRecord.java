package dev.karta.server.sessions;

import dev.karta.api.Session;
import java.time.Instant;
import java.util.Map;

/**
 * A session row with the release it is pinned to: a production release ({@code version} {@code v3})
 * or a preview release ({@code preview} {@code pr-42}, {@code version} {@code pr-42.2});
 * {@code releaseId} names either. {@code status} is the effective one: an idle
 * session past the idle timeout reads as ended (with {@code endedAt} the moment it expired) even
 * before the sweeper has written that down.
 */
record SessionRecord(
        String id,
        String projectId,
        String projectName,
        String releaseId,
        String version,
        String preview,
        String harness,
        String contentDigest,
        SessionStatus status,
        Map<String, String> metadata,
        int turns,
        String harnessSessionId,
        Instant createdAt,
        Instant updatedAt,
        Instant endedAt,
        String endReason) {

    /** The wire form, with the size of its workspace on this server (null when none). */
    Session toWire(Long workspaceBytes) {
        return new Session(id, new Session.ProjectRef(projectName, version, preview), status.wireName(), harness, turns,
                metadata, createdAt, updatedAt, endedAt, endReason, workspaceBytes);
    }
}
