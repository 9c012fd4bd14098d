package dev.karta.server.logs;

import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArraySet;

/**
 * Wakes the followers of a project when something was appended to its log. Appends on this server
 * publish here after commit; on PostgreSQL, {@link LogWakeups} publishes the appends of other
 * servers. Followers always read what is new from the database, so a wake-up carries no data and
 * a lost or merged one costs nothing but latency.
 */
public final class LogBus {
    private final Map<String, Set<Runnable>> listeners = new ConcurrentHashMap<>();

    /** Registers {@code onAppend} for a project; close the returned handle to unregister. */
    public AutoCloseable subscribe(String projectId, Runnable onAppend) {
        listeners.computeIfAbsent(projectId, id -> new CopyOnWriteArraySet<>()).add(onAppend);
        return () -> listeners.computeIfPresent(projectId, (id, set) -> {
            set.remove(onAppend);
            return set.isEmpty() ? null : set;
        });
    }

    public void publish(String projectId) {
        Set<Runnable> set = listeners.get(projectId);
        if (set != null) {
            set.forEach(Runnable::run);
        }
    }

    /** Wakes every subscriber: after a gap in which appends of other servers may have gone unseen. */
    void publishAll() {
        listeners.values().forEach(set -> set.forEach(Runnable::run));
    }
}
