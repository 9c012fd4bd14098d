package dev.karta.server.logs;

import java.util.Locale;

/** Where a log entry comes from. */
public enum LogSource {
    BUILD, RELEASE, SESSION, SYSTEM;

    public String wireName() {
        return name().toLowerCase(Locale.ROOT);
    }

    public static LogSource parse(String value) {
        for (LogSource source : values()) {
            if (source.wireName().equals(value)) {
                return source;
            }
        }
        return null;
    }
}
