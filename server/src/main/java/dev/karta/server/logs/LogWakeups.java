package dev.karta.server.logs;

import dev.karta.server.store.Database;
import dev.karta.server.store.Dialect;
import java.sql.Connection;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.LinkedHashSet;
import java.util.Set;
import java.util.concurrent.atomic.AtomicLong;
import org.postgresql.PGConnection;
import org.postgresql.PGNotification;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Brings the log appends of other servers to this one's {@link LogBus}. On PostgreSQL one thread
 * holds one connection of its own, outside the pool, that {@code LISTEN}s on
 * {@link LogStore#CHANNEL}; each notification (sent by an append, delivered at its commit) wakes
 * the followers of its project, so a follower here sees another server's line within a few
 * milliseconds, and each wake-up costs one read per followed project on this server, whatever the
 * number of followers. Notifications of this server's own appends are skipped: those publish on
 * the bus directly.
 *
 * <p>While the connection is down (PostgreSQL restarting, a network cut) {@link #listening} is
 * false and {@link LogFeeds} polls instead; the thread connects again every {@link #RETRY}, and on
 * success wakes every follower once, for what was appended in the gap. A connection silent for
 * {@link #KEEPALIVE} is probed with a query, so a cut that sends nothing is noticed too. On SQLite
 * (one server) nothing runs and nothing listens.
 */
public final class LogWakeups implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(LogWakeups.class);
    static final Duration RETRY = Duration.ofSeconds(1);
    static final Duration KEEPALIVE = Duration.ofSeconds(10);
    /** How long one wait for notifications lasts: bounds how late {@link #close} is noticed. */
    private static final int WAIT_MS = 250;

    private final Database db;
    private final LogBus bus;
    private final Thread thread;
    private final AtomicLong connects = new AtomicLong();
    private final AtomicLong woken = new AtomicLong();
    private volatile boolean listening;
    private volatile boolean closed;
    private volatile Connection current;

    private LogWakeups(Database db, LogBus bus) {
        this.db = db;
        this.bus = bus;
        this.thread = db.dialect() == Dialect.POSTGRES ? new Thread(this::run, "log-wakeups") : null;
        if (thread != null) {
            thread.setDaemon(true);
        }
    }

    /** Starts listening (PostgreSQL), or nothing (SQLite). */
    public static LogWakeups start(Database db, LogBus bus) {
        LogWakeups wakeups = new LogWakeups(db, bus);
        if (wakeups.thread != null) {
            wakeups.thread.start();
        }
        return wakeups;
    }

    /** Whether appends of other servers wake followers now; when false, followers must poll. */
    public boolean listening() {
        return listening;
    }

    /** How many times the listening connection was opened (for tests). */
    public long connects() {
        return connects.get();
    }

    /** How many project wake-ups notifications of other servers caused (for tests). */
    public long woken() {
        return woken.get();
    }

    private void run() {
        boolean warned = false;
        while (!closed) {
            try (Connection connection = db.openUnpooled()) {
                current = connection;
                connection.setAutoCommit(true);
                try (Statement listen = connection.createStatement()) {
                    listen.execute("LISTEN " + LogStore.CHANNEL);
                }
                connects.incrementAndGet();
                listening = true;
                if (warned) {
                    LOG.info("listening for log appends of other servers again");
                    warned = false;
                }
                bus.publishAll(); // appends of other servers while no one listened
                listen(connection);
            } catch (SQLException | RuntimeException e) {
                listening = false;
                if (closed) {
                    return;
                }
                if (!warned) {
                    LOG.warn("not listening for log appends of other servers ({}); followers poll every second "
                            + "until the database answers again", e.toString());
                    warned = true;
                }
            } finally {
                listening = false;
                current = null;
            }
            pause();
        }
    }

    private void listen(Connection connection) throws SQLException {
        PGConnection pg = connection.unwrap(PGConnection.class);
        long quietSince = System.nanoTime();
        while (!closed) {
            PGNotification[] received = pg.getNotifications(WAIT_MS);
            if (received != null && received.length > 0) {
                quietSince = System.nanoTime();
                Set<String> projects = new LinkedHashSet<>();
                for (PGNotification notification : received) {
                    String payload = notification.getParameter();
                    int space = payload.indexOf(' ');
                    if (space > 0 && !payload.substring(space + 1).equals(bus.origin())) {
                        projects.add(payload.substring(0, space));
                    }
                }
                woken.addAndGet(projects.size());
                projects.forEach(bus::publish);
            } else if (System.nanoTime() - quietSince > KEEPALIVE.toNanos()) {
                try (Statement probe = connection.createStatement()) {
                    probe.execute("SELECT 1");
                }
                quietSince = System.nanoTime();
            }
        }
    }

    private void pause() {
        try {
            Thread.sleep(RETRY.toMillis());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            closed = true;
        }
    }

    @Override
    public void close() {
        closed = true;
        if (thread == null) {
            return;
        }
        thread.interrupt();
        try {
            thread.join(2 * WAIT_MS + 1000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        Connection open = current;
        if (open != null && thread.isAlive()) {
            try {
                open.close();
            } catch (SQLException e) {
                LOG.debug("closing the listening connection failed", e);
            }
        }
    }
}
