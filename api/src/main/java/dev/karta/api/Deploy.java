package dev.karta.api;

import com.fasterxml.jackson.annotation.JsonIgnore;
import java.time.Instant;

/**
 * A request to build one commit. {@code status} is queued, building, succeeded, failed,
 * superseded or canceled; {@code release} is set once succeeded, {@code error} once failed.
 * {@code preview} names the preview a preview build is for ({@code pr-42}; its release is the
 * preview's, so {@code release} stays null), and is null for production deploys.
 */
public record Deploy(
        String id,
        String project,
        String commitSha,
        String source,
        String status,
        String release,
        String error,
        Instant createdAt,
        Instant startedAt,
        Instant finishedAt,
        String preview) {

    /** Whether the deploy has ended (succeeded, failed, superseded or canceled). */
    @JsonIgnore
    public boolean isFinished() {
        return status != null && switch (status) {
            case "succeeded", "failed", "superseded", "canceled" -> true;
            default -> false;
        };
    }
}
