package dev.karta.server.store;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;

/**
 * The PostgreSQL advisory lock of a project's git repositories, shared by every replica: a push
 * holds it from its ref checks to its ref update, and a compaction of the project's repositories
 * runs only while it holds it, so a compaction never folds in a ref update between a push's read
 * of the refs and its own update. Session-level: it is held on a connection of its own, outside
 * the pool, and released by {@link #releaseAll} on that connection, by closing it, or by the death
 * of its server.
 */
public final class ProjectLocks {
    /**
     * The first key of the two-key advisory lock; the second is the project id's hash, so two
     * projects may rarely share a lock (a needless wait, never a missed one).
     */
    private static final int ADVISORY_CLASS = 0x4b707368;

    private ProjectLocks() {
    }

    /** Takes the project's lock on {@code connection} if no one holds it; never waits. */
    public static boolean tryLock(Connection connection, String projectId) throws SQLException {
        try (PreparedStatement statement = connection.prepareStatement("SELECT pg_try_advisory_lock(?, ?)")) {
            statement.setInt(1, ADVISORY_CLASS);
            statement.setInt(2, projectId.hashCode());
            try (ResultSet row = statement.executeQuery()) {
                return row.next() && row.getBoolean(1);
            }
        }
    }

    /**
     * Releases every advisory lock the connection's session holds (at any depth), so that it can
     * take another; a connection where this fails must be closed, which releases them too.
     */
    public static void releaseAll(Connection connection) throws SQLException {
        try (PreparedStatement statement = connection.prepareStatement("SELECT pg_advisory_unlock_all()")) {
            statement.execute();
        }
    }
}
