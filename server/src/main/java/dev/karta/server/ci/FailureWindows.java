package dev.karta.server.ci;

import dev.karta.server.http.ApiError;
import java.time.Clock;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Refused token exchanges counted per client address in one-minute windows: past the limit, that
 * address is answered 429 (with {@code Retry-After}) before any token is looked at, until its window
 * ends. Bounded: when too many addresses are tracked, ended windows are dropped, and if that is not
 * enough, all of them.
 */
final class FailureWindows {
    static final Duration WINDOW = Duration.ofMinutes(1);
    private static final int MAX_TRACKED = 100_000;

    private record Window(long start, int failures) {
    }

    private final int limit;
    private final Clock clock;
    private final Map<String, Window> windows = new ConcurrentHashMap<>();

    FailureWindows(int limit, Clock clock) {
        this.limit = limit;
        this.clock = clock;
    }

    /** A 429 when {@code address} has used up its refusals for the current window. */
    void check(String address) {
        long now = clock.millis();
        Window window = windows.get(key(address));
        if (window != null && now < window.start() + WINDOW.toMillis() && window.failures() >= limit) {
            throw ApiError.tooManyRequests("too many refused token exchanges from this address (" + limit
                    + " a minute); try again later", Duration.ofMillis(window.start() + WINDOW.toMillis() - now));
        }
    }

    void record(String address) {
        long now = clock.millis();
        if (windows.size() >= MAX_TRACKED) {
            windows.values().removeIf(w -> now >= w.start() + WINDOW.toMillis());
            if (windows.size() >= MAX_TRACKED) {
                windows.clear();
            }
        }
        windows.merge(key(address), new Window(now, 1), (old, fresh) ->
                now >= old.start() + WINDOW.toMillis() ? fresh : new Window(old.start(), old.failures() + 1));
    }

    private static String key(String address) {
        return address == null ? "-" : address;
    }
}
