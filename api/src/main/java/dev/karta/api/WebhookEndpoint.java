package dev.karta.api;

import java.time.Instant;
import java.util.List;

/**
 * An event webhook endpoint: never its secret. {@code events} lists the subscribed event types, or
 * is {@code ["*"]} for all. {@code disabledReason} says why delivery stopped when the server
 * disabled it (null when enabled, or disabled by an admin).
 */
public record WebhookEndpoint(
        String id,
        String url,
        String description,
        List<String> events,
        boolean enabled,
        String disabledReason,
        Instant disabledAt,
        Instant createdAt,
        Instant updatedAt) {
}
