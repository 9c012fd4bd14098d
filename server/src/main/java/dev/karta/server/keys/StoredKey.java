package dev.karta.server.keys;

import dev.karta.server.http.Principal;
import dev.karta.server.http.Scope;
import java.time.Instant;

/**
 * A key row: identity, scope, digest and life-cycle times. Never holds the secret.
 * {@code projectId} (null: org-wide) is the project the key is restricted to; {@code projectName}
 * is that project's name while it exists (null once it is gone), {@code projectNameAtCreation}
 * the name it had when the key was made, for display.
 */
record StoredKey(
        String id,
        String orgId,
        String orgName,
        String name,
        Scope scope,
        String prefix,
        String digest,
        Instant createdAt,
        Instant lastUsedAt,
        Instant revokedAt,
        Instant expiresAt,
        String projectId,
        String projectName,
        String projectNameAtCreation) {

    boolean isRevoked() {
        return revokedAt != null;
    }

    /** Whether the key has expired at {@code now}: from its expiry on, it is refused. */
    boolean isExpired(Instant now) {
        return expiresAt != null && !now.isBefore(expiresAt);
    }

    Principal principal() {
        return new Principal(orgId, orgName, id, name, scope, projectId, projectName, expiresAt);
    }

    dev.karta.api.ApiKey toWire() {
        return new dev.karta.api.ApiKey(id, name, java.util.List.of(scope.wireName()), prefix,
                createdAt, lastUsedAt, revokedAt, expiresAt,
                projectId == null ? null : projectName != null ? projectName : projectNameAtCreation);
    }
}
