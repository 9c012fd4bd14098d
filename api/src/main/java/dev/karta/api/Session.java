package dev.karta.api;

import java.time.Instant;
import java.util.Map;

/**
 * A conversation with a project (docs/sessions.md), pinned at creation to the release active then.
 * {@code status} is "idle", "running" (a turn is in flight) or "ended"; {@code endReason} is
 * "deleted" or "idle_timeout" once ended. {@code turns} counts the messages it has handled.
 */
public record Session(
        String id,
        ProjectRef project,
        String status,
        String harness,
        int turns,
        Map<String, String> metadata,
        Instant createdAt,
        Instant updatedAt,
        Instant endedAt,
        String endReason) {

    /** The project a session talks to, and the release version it is pinned to. */
    public record ProjectRef(String ref, String version) {
    }
}
