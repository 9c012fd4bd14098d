package dev.karta.api;

import java.time.Instant;

/** One line of a project's log; {@code source} is build, release, session or system. */
public record LogEntry(
        long id,
        Instant time,
        String source,
        String deployId,
        String release,
        String message) {
}
