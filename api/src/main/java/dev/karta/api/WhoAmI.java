package dev.karta.api;

import java.time.Instant;
import java.util.List;

/** Answer of {@code GET /whoami}: the caller's org and key. */
public record WhoAmI(String org, Key key) {

    /**
     * The key; {@code expiresAt} null when it never expires, {@code project} the project it is
     * restricted to, null when it may use the whole org.
     */
    public record Key(String id, String name, List<String> scopes, Instant expiresAt, String project) {
    }
}
