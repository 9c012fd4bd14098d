package dev.karta.api;

import java.util.List;

/** Answer of {@code GET /whoami}: the caller's org and key. */
public record WhoAmI(String org, Key key) {

    public record Key(String id, String name, List<String> scopes) {
    }
}
