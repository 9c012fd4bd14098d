package dev.karta.server.store;

import java.sql.Connection;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Consumer;
import java.util.regex.Pattern;
import org.jdbi.v3.core.Handle;
import org.postgresql.PGConnection;
import org.postgresql.PGNotification;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Messages between the servers that share one PostgreSQL database, by {@code NOTIFY} and
 * {@code LISTEN}. A message sent inside a transaction is delivered when it commits (never for a
 * rollback); each server holds one connection of its own, outside the pool, listening on every
 * channel a feature registered, and hands each payload of another server to that channel's
 * handler on its one listening thread (handlers must be quick). Messages a server sent itself are
 * skipped: their effects were applied locally already.
 *
 * <p>While the connection is down (PostgreSQL restarting, a network cut) {@link #listening} is
 * false, and features that rely on messages fall back on polling; the thread connects again every
 * {@link #RETRY} and runs the {@link #onListening} callbacks after each (re)connection, for what
 * was sent in the gap. A connection silent for {@link #KEEPALIVE} is probed with a query, so a cut
 * that sends nothing is noticed too. On SQLite (one server) nothing is sent and nothing listens.
 */
public final class Notifications implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(Notifications.class);
    static final Duration RETRY = Duration.ofSeconds(1);
    static final Duration KEEPALIVE = Duration.ofSeconds(10);
    /** How long one wait for messages lasts: bounds how late {@link #close} is noticed. */
    private static final int WAIT_MS = 250;
    private static final Pattern CHANNEL = Pattern.compile("[a-z][a-z0-9_]{0,62}");

    private final Database db;
    /** Names this server in what it sends (first word of each payload), so it can skip its own. */
    private final String origin = UUID.randomUUID().toString().replace("-", "").substring(0, 16);
    private final Map<String, Consumer<String>> handlers = new ConcurrentHashMap<>();
    private final List<Runnable> onListening = new CopyOnWriteArrayList<>();
    private final AtomicLong connects = new AtomicLong();
    private volatile Thread thread;
    private volatile boolean listening;
    private volatile boolean closed;
    private volatile Connection current;

    public Notifications(Database db) {
        this.db = db;
    }

    /** Hands the payloads other servers send on {@code channel} to {@code handler}; before {@link #start}. */
    public void on(String channel, Consumer<String> handler) {
        if (!CHANNEL.matcher(channel).matches()) {
            throw new IllegalArgumentException("not a channel name: " + channel);
        }
        if (thread != null) {
            throw new IllegalStateException("channels are registered before start");
        }
        handlers.put(channel, handler);
    }

    /** Runs {@code callback} each time listening (re)starts: messages of the gap are lost. */
    public void onListening(Runnable callback) {
        onListening.add(callback);
    }

    /** Starts listening on the registered channels (PostgreSQL); does nothing on SQLite. */
    public synchronized void start() {
        if (thread != null || db.dialect() != Dialect.POSTGRES || handlers.isEmpty()) {
            return;
        }
        thread = new Thread(this::run, "notifications");
        thread.setDaemon(true);
        thread.start();
    }

    /**
     * Sends {@code payload} on {@code channel} in the caller's transaction: delivered to the other
     * servers when it commits. Nothing on SQLite.
     */
    public void send(Handle h, String channel, String payload) {
        if (db.dialect() != Dialect.POSTGRES) {
            return;
        }
        h.createQuery("SELECT pg_notify(:channel, :payload)")
                .bind("channel", channel)
                .bind("payload", origin + " " + payload)
                .mapToMap()
                .list();
    }

    /** {@link #send(Handle, String, String)} in a transaction of its own. */
    public void send(String channel, String payload) {
        if (db.dialect() == Dialect.POSTGRES) {
            db.withHandle(h -> {
                send(h, channel, payload);
                return null;
            });
        }
    }

    /** Whether messages of other servers arrive now; when false, features must poll. */
    public boolean listening() {
        return listening;
    }

    /** How many times the listening connection was opened (for tests). */
    public long connects() {
        return connects.get();
    }

    private void run() {
        boolean warned = false;
        while (!closed) {
            try (Connection connection = db.openUnpooled()) {
                current = connection;
                connection.setAutoCommit(true);
                try (Statement listen = connection.createStatement()) {
                    for (String channel : handlers.keySet()) {
                        listen.execute("LISTEN " + channel);
                    }
                }
                connects.incrementAndGet();
                listening = true;
                if (warned) {
                    LOG.info("listening for messages of other servers again");
                    warned = false;
                }
                onListening.forEach(Runnable::run);
                listen(connection);
            } catch (SQLException | RuntimeException e) {
                listening = false;
                if (closed) {
                    return;
                }
                if (!warned) {
                    LOG.warn("not listening for messages of other servers ({}); retrying every {} s",
                            e.toString(), RETRY.toSeconds());
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
                for (PGNotification message : received) {
                    deliver(message.getName(), message.getParameter());
                }
            } else if (System.nanoTime() - quietSince > KEEPALIVE.toNanos()) {
                try (Statement probe = connection.createStatement()) {
                    probe.execute("SELECT 1");
                }
                quietSince = System.nanoTime();
            }
        }
    }

    private void deliver(String channel, String payload) {
        int space = payload.indexOf(' ');
        Consumer<String> handler = handlers.get(channel);
        if (space <= 0 || handler == null || payload.substring(0, space).equals(origin)) {
            return;
        }
        try {
            handler.accept(payload.substring(space + 1));
        } catch (RuntimeException e) {
            LOG.warn("handling a message on {} failed: {}", channel, e.toString());
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
        Thread running;
        synchronized (this) {
            running = thread;
        }
        if (running == null) {
            return;
        }
        running.interrupt();
        try {
            running.join(2L * WAIT_MS + 1000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        Connection open = current;
        if (open != null && running.isAlive()) {
            try {
                open.close();
            } catch (SQLException e) {
                LOG.debug("closing the listening connection failed", e);
            }
        }
    }
}
