package dev.karta.server.http;

import java.time.Clock;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Failures counted per key (a client address, a key prefix, …) in one-minute windows, for
 * throttling guesses: {@link #admit} counts an attempt before the work it guards starts, and
 * refuses it when the key's window already holds {@code limit}; {@link #forgive} takes back an
 * attempt that turned out not to be a failure. Counting first keeps concurrent guesses from all
 * passing before the first of them has failed. Windows that ended are dropped once many are held.
 */
public final class FailureWindows {
    public static final Duration WINDOW = Duration.ofMinutes(1);
    private static final int MAX_WINDOWS = 100_000;

    private record Window(long start, int failures) {
    }

    private final int limit;
    private final Clock clock;
    private final Map<String, Window> windows = new ConcurrentHashMap<>();

    public FailureWindows(int limit, Clock clock) {
        this.limit = limit;
        this.clock = clock;
    }

    /**
     * Counts one attempt in {@code key}'s window, unless the window already holds the limit: then
     * nothing is counted and the answer is false. A null key is not counted.
     */
    public boolean admit(String key) {
        if (key == null) {
            return true;
        }
        long now = clock.millis();
        if (windows.size() >= MAX_WINDOWS) {
            windows.values().removeIf(w -> now - w.start() >= WINDOW.toMillis());
        }
        boolean[] admitted = {false};
        windows.compute(key, (k, old) -> {
            if (old == null || now - old.start() >= WINDOW.toMillis()) {
                admitted[0] = true;
                return new Window(now, 1);
            }
            if (old.failures() >= limit) {
                return old;
            }
            admitted[0] = true;
            return new Window(old.start(), old.failures() + 1);
        });
        return admitted[0];
    }

    /** Takes back an attempt {@link #admit} counted that turned out not to be a failure. */
    public void forgive(String key) {
        if (key != null) {
            windows.computeIfPresent(key, (k, old) -> old.failures() <= 1 ? null
                    : new Window(old.start(), old.failures() - 1));
        }
    }

    /** How long until {@code key}'s current window ends (at least a second; for {@code Retry-After}). */
    public Duration untilWindowEnds(String key) {
        Window window = key == null ? null : windows.get(key);
        long left = window == null ? 0 : window.start() + WINDOW.toMillis() - clock.millis();
        return Duration.ofMillis(Math.max(1000, left));
    }
}
