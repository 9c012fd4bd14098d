package dev.karta.api;

import java.time.Instant;

/**
 * Answer of {@code POST /oidc/github/token}: a write key restricted to the requested project, its
 * secret (shown once) and when it expires.
 */
public record OidcKey(ApiKey apiKey, String secret, Instant expiresAt) {
    /** Never prints the secret. */
    @Override
    public String toString() {
        return "OidcKey[apiKey=" + apiKey + ", expiresAt=" + expiresAt + "]";
    }
}
