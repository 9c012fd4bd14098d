package dev.karta.api;

import java.time.Instant;
import java.util.List;

/**
 * One event's delivery to one endpoint: {@code status} is {@code pending}, {@code delivered} or
 * {@code failed} (given up); {@code attemptLog} lists its most recent attempts, oldest first, each
 * with the HTTP status answered (null when none came) or the error.
 */
public record WebhookDelivery(
        long id,
        String eventId,
        String eventType,
        String project,
        String status,
        int attempts,
        Instant nextAttemptAt,
        Integer lastStatusCode,
        String lastError,
        Instant createdAt,
        Instant finishedAt,
        List<Attempt> attemptLog) {

    public record Attempt(Instant at, Integer statusCode, String error, long durationMs) {
    }
}
