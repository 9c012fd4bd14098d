package dev.karta.server.sessions;

import java.util.Locale;

/** A session's lifecycle: idle ⇄ running (one turn at a time), then ended for good. */
enum SessionStatus {
    IDLE, RUNNING, ENDED;

    String wireName() {
        return name().toLowerCase(Locale.ROOT);
    }

    /** Whether the session may still run turns, so its release must be kept. */
    boolean isLive() {
        return this != ENDED;
    }

    /** Parses "idle", "running" or "ended"; anything else is null. */
    static SessionStatus parse(String value) {
        for (SessionStatus status : values()) {
            if (status.wireName().equals(value)) {
                return status;
            }
        }
        return null;
    }
}
