package dev.karta.api;

import java.time.Instant;
import java.util.List;

/**
 * An API key's public face: never its secret. {@code prefix} is the first 14 characters.
 * {@code expiresAt} is null for a key that never expires; {@code project} is the name of the one
 * project the key is restricted to, or null for a key of the whole org.
 */
public record ApiKey(
        String id,
        String name,
        List<String> scopes,
        String prefix,
        Instant createdAt,
        Instant lastUsedAt,
        Instant revokedAt,
        Instant expiresAt,
        String project) {
}
