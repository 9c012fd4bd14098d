package dev.karta.server.deploys;

import java.util.Locale;

/** The life cycle of a deploy. */
public enum DeployStatus {
    QUEUED, BUILDING, SUCCEEDED, FAILED, SUPERSEDED, CANCELED;

    /** Whether the deploy has ended; a terminal deploy never changes again. */
    public boolean isTerminal() {
        return this != QUEUED && this != BUILDING;
    }

    public String wireName() {
        return name().toLowerCase(Locale.ROOT);
    }

    public static DeployStatus parse(String value) {
        return valueOf(value.toUpperCase(Locale.ROOT));
    }
}
