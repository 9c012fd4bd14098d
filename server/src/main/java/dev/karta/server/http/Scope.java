package dev.karta.server.http;

import io.javalin.security.RouteRole;
import java.util.Locale;

/** Ordered key scopes: a key holds one level and every level below it. */
public enum Scope implements RouteRole {
    READ,
    WRITE,
    ADMIN;

    /** Whether a key of this scope may do what {@code required} allows. */
    public boolean includes(Scope required) {
        return compareTo(required) >= 0;
    }

    public String wireName() {
        return name().toLowerCase(Locale.ROOT);
    }

    /** Parses "read", "write" or "admin"; anything else is null. */
    public static Scope parse(String name) {
        if (name == null) {
            return null;
        }
        for (Scope scope : values()) {
            if (scope.wireName().equals(name.trim().toLowerCase(Locale.ROOT))) {
                return scope;
            }
        }
        return null;
    }
}
