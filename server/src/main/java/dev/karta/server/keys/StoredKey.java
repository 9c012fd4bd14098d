package dev.karta.server.keys;

import dev.karta.server.http.Principal;
import dev.karta.server.http.Scope;
import java.time.Instant;

/** A key row: identity, scope, digest and life-cycle times. Never holds the secret. */
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
        Instant revokedAt) {

    boolean isRevoked() {
        return revokedAt != null;
    }

    Principal principal() {
        return new Principal(orgId, orgName, id, name, scope);
    }

    dev.karta.api.ApiKey toWire() {
        return new dev.karta.api.ApiKey(id, name, java.util.List.of(scope.wireName()), prefix,
                createdAt, lastUsedAt, revokedAt);
    }
}
