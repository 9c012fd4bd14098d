package dev.karta.server.ingest.git;

import dev.karta.server.store.Database;
import dev.karta.server.store.Dialect;
import dev.karta.server.store.ProjectLocks;
import java.sql.Connection;
import java.sql.SQLException;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.BlockingDeque;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.LinkedBlockingDeque;
import java.util.concurrent.locks.ReentrantLock;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One push per project at a time, from its ref checks through its build to its ref update, so a
 * release and the deploy branch never disagree because two pushes crossed. Within a server a JVM
 * lock orders them; on PostgreSQL the holder also takes a session-level advisory lock on a
 * connection of its own, outside the pool (a push that waits for its build must not starve other
 * requests of pooled connections), held until the push ends, so pushes through different replicas
 * (whose repositories are shared in the database) wait for each other too. Releasing unlocks every
 * advisory lock of that session and keeps the connection for a later push (opening one costs a
 * PostgreSQL backend start, tens of milliseconds of each push); a connection that fails to unlock,
 * or finds no room among the {@link #IDLE_CONNECTIONS} kept, is closed, which releases its locks
 * just as well. A replica that dies drops its connections, and PostgreSQL releases the lock with
 * them.
 */
final class PushLocks implements AutoCloseable {
    /** How often a push waiting for another replica's push tries again. */
    static final Duration POLL = Duration.ofMillis(100);
    /** Lock connections kept open between pushes: as many as pushes to different projects usually overlap. */
    static final int IDLE_CONNECTIONS = 2;
    /** How long a kept connection may take to prove it still answers before a new one is opened. */
    private static final int VALID_SECONDS = 1;
    private static final Logger LOG = LoggerFactory.getLogger(PushLocks.class);

    private final Map<String, ReentrantLock> locks = new ConcurrentHashMap<>();
    /** The database whose advisory locks serialise pushes across replicas; null on SQLite. */
    private final Database db;
    /** The connection holding each project's advisory lock, while this server's push holds it. */
    private final Map<String, Connection> held = new ConcurrentHashMap<>();
    /** Connections that hold no lock, newest first, for the next pushes. */
    private final BlockingDeque<Connection> idle = new LinkedBlockingDeque<>(IDLE_CONNECTIONS);

    PushLocks(Database db) {
        this.db = db.dialect() == Dialect.POSTGRES ? db : null;
    }

    /**
     * Takes the project's lock, running {@code onWait} first (once) if another push holds it, on
     * this server or another.
     */
    void lock(String projectId, Runnable onWait) throws InterruptedException {
        ReentrantLock lock = locks.computeIfAbsent(projectId, id -> new ReentrantLock(true));
        boolean told = false;
        if (!lock.tryLock()) {
            onWait.run();
            told = true;
            lock.lockInterruptibly();
        }
        if (db == null) {
            return;
        }
        Connection connection = null;
        try {
            connection = connection();
            while (!ProjectLocks.tryLock(connection, projectId)) {
                if (!told) {
                    onWait.run();
                    told = true;
                }
                Thread.sleep(POLL.toMillis());
            }
            held.put(projectId, connection);
        } catch (SQLException e) {
            close(connection, projectId);
            lock.unlock();
            throw new IllegalStateException("cannot take the push lock of project " + projectId, e);
        } catch (InterruptedException | RuntimeException e) {
            close(connection, projectId);
            lock.unlock();
            throw e;
        }
    }


    /** Releases the project's lock if this thread holds it; otherwise does nothing. */
    void unlockIfHeld(String projectId) {
        ReentrantLock lock = locks.get(projectId);
        if (lock == null || !lock.isHeldByCurrentThread()) {
            return;
        }
        try {
            release(held.remove(projectId), projectId);
        } finally {
            lock.unlock();
        }
    }

    /** A kept connection that still answers, or a new one. */
    private Connection connection() throws SQLException {
        Connection kept;
        while ((kept = idle.pollFirst()) != null) {
            if (kept.isValid(VALID_SECONDS)) {
                return kept;
            }
            close(kept, "(idle)");
        }
        return db.openUnpooled();
    }

    /** Unlocks the connection's session and keeps it for a later push, or closes it. */
    private void release(Connection connection, String projectId) {
        if (connection == null) {
            return;
        }
        try {
            ProjectLocks.releaseAll(connection);
            if (idle.offerFirst(connection)) {
                return;
            }
        } catch (SQLException e) {
            LOG.debug("could not unlock the push lock connection of project {} (closing it): {}", projectId,
                    e.toString());
        }
        close(connection, projectId);
    }

    /** Closes the connections kept for later pushes (the server is stopping). */
    @Override
    public void close() {
        Connection kept;
        while ((kept = idle.pollFirst()) != null) {
            close(kept, "(idle)");
        }
    }

    /** Closes the connection that holds (or was taking) a lock: PostgreSQL releases it with its session. */
    private static void close(Connection connection, String projectId) {
        if (connection == null) {
            return;
        }
        try {
            connection.close();
        } catch (SQLException e) {
            // A broken connection: PostgreSQL released the lock when it ended.
            LOG.warn("could not close the push lock connection of project {}: {}", projectId, e.toString());
        }
    }
}
