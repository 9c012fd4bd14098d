package dev.karta.api;

import java.time.Instant;
import java.util.List;

/** An API key's public face: never its secret. {@code prefix} is the first 14 characters. */
public record ApiKey(
        String id,
        String name,
        List<String> scopes,
        String prefix,
        Instant createdAt,
        Instant lastUsedAt,
        Instant revokedAt) {
}
