package dev.karta.server.logs;

import dev.karta.server.store.Notifications;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Brings the log appends of other servers to this one's {@link LogBus}. On PostgreSQL every
 * append sends the project's id on {@link LogStore#CHANNEL} in its own transaction
 * ({@link Notifications}, delivered at commit); here each one wakes the followers of its project,
 * so a follower on this server sees another server's line within a few milliseconds, for one read
 * per followed project per server, whatever the number of followers. After each (re)connection
 * every follower is woken once, for what was appended while no one listened; while not listening,
 * {@link LogFeeds} polls instead.
 */
public final class LogWakeups {
    private final Notifications notifications;
    private final AtomicLong woken = new AtomicLong();

    /** Registers on {@code notifications}, which the caller then starts. */
    public LogWakeups(Notifications notifications, LogBus bus) {
        this.notifications = notifications;
        notifications.on(LogStore.CHANNEL, projectId -> {
            woken.incrementAndGet();
            bus.publish(projectId);
        });
        notifications.onListening(bus::publishAll);
    }

    /** Whether appends of other servers wake followers now; when false, followers must poll. */
    public boolean listening() {
        return notifications.listening();
    }

    /** How many times the listening connection was opened (for tests). */
    public long connects() {
        return notifications.connects();
    }

    /** How many project wake-ups appends of other servers caused (for tests). */
    public long woken() {
        return woken.get();
    }
}
