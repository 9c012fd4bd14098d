package dev.karta.api;

import java.time.Instant;
import java.util.Map;

/**
 * A conversation with a project (docs/sessions.md), pinned at creation to the release active then.
 * {@code status} is "idle", "running" (a turn is in flight) or "ended"; {@code endReason} is
 * "deleted" or "idle_timeout" once ended. {@code turns} counts the messages it has handled.
 * {@code workspaceBytes} is the size of its workspace (working files and HOME) on the server that
 * answers, as measured after its last turn; null when that server holds no workspace for it (not
 * prepared yet, or released: ended, or evicted beyond the server's cap).
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
        String endReason,
        Long workspaceBytes) {

    /**
     * The project a session talks to, and the release version it is pinned to: {@code v3}, or for
     * a session of a preview {@code pr-42.2} with {@code preview} naming the preview (null otherwise).
     */
    public record ProjectRef(String ref, String version, String preview) {
    }
}
