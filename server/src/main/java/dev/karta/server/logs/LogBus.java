package dev.karta.server.logs;

import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArraySet;

/**
 * Wakes the followers of a project when something was appended to its log on this server.
 * Followers always read what is new from the database, so a wake-up carries no data and a lost
 * or merged one costs nothing but latency (followers also poll, for writes of other replicas).
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
}
