package dev.karta.cli;

import java.time.Duration;

/**
 * The pauses between attempts to reopen a stream that dropped: {@code first} after the first
 * failure, doubled after each further failure in a row up to {@code max}, and back to
 * {@code first} once an attempt got through. Counts the failures in a row, so a caller can give
 * up after a number of them. Not thread-safe: one follower owns it.
 */
final class Backoff {
    private final Duration first;
    private final Duration max;
    private Duration next;
    private int failures;

    Backoff(Duration first, Duration max) {
        if (first.isNegative() || max.compareTo(first) < 0) {
            throw new IllegalArgumentException("back-off pauses must be 0 <= first <= max, got " + first + ", " + max);
        }
        this.first = first;
        this.max = max;
        this.next = first;
    }

    /** An attempt got through: the next failure starts the count and the pauses over. */
    void succeeded() {
        next = first;
        failures = 0;
    }

    /** Counts a failed attempt and returns how long to wait before the next one. */
    Duration failed() {
        failures++;
        Duration pause = next;
        Duration doubled = next.multipliedBy(2);
        next = doubled.compareTo(max) > 0 ? max : doubled;
        return pause;
    }

    /** Failed attempts since the last one that got through. */
    int failures() {
        return failures;
    }
}
