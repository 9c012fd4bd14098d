package dev.karta.api;

import java.util.List;

/**
 * Body of {@code POST /api_keys}: one scope level, given as a one-element list; optionally when
 * the key expires (RFC 3339) and the one project of the org it is restricted to.
 */
public record CreateApiKey(String name, List<String> scopes, String expiresAt, String project) {
    public CreateApiKey(String name, List<String> scopes) {
        this(name, scopes, null, null);
    }
}
