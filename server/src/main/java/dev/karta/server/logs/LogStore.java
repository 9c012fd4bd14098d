package dev.karta.server.logs;

import static dev.karta.server.store.Rows.instant;

import dev.karta.api.LogEntry;
import dev.karta.server.store.Database;
import java.time.Instant;
import java.util.List;
import org.jdbi.v3.core.Handle;
import org.jdbi.v3.core.statement.Query;

/**
 * Appends and reads log entries. Messages longer than {@value #MAX_MESSAGE} characters are cut
 * with a marker, never rejected. Every append wakes the followers of its project.
 */
public final class LogStore {
    static final int MAX_MESSAGE = 8192;
    private static final String COLUMNS = "id, time, source, deploy_id, release, message";

    private final Database db;
    private final LogBus bus;

    public LogStore(Database db, LogBus bus) {
        this.db = db;
        this.bus = bus;
    }

    public LogBus bus() {
        return bus;
    }

    /** Appends one entry in its own transaction and wakes the project's followers. */
    public void append(String projectId, LogSource source, String deployId, String release, String message) {
        db.withHandle(h -> {
            insert(h, projectId, source, deployId, release, message);
            return null;
        });
        bus.publish(projectId);
    }

    /**
     * Appends inside the caller's transaction (an activation, a rollback); the caller wakes
     * followers with {@link LogBus#publish} after commit.
     */
    public void append(Handle h, String projectId, LogSource source, String deployId, String release, String message) {
        insert(h, projectId, source, deployId, release, message);
    }

    private static void insert(Handle h, String projectId, LogSource source, String deployId, String release,
                               String message) {
        String text = message.length() > MAX_MESSAGE
                ? message.substring(0, MAX_MESSAGE) + " …[truncated " + (message.length() - MAX_MESSAGE) + " chars]"
                : message;
        h.createUpdate("INSERT INTO log_entries (project_id, time, source, deploy_id, release, message) "
                        + "VALUES (:p, :t, :s, :d, :r, :m)")
                .bind("p", projectId)
                .bind("t", Instant.now().toEpochMilli())
                .bind("s", source.wireName())
                .bind("d", deployId)
                .bind("r", release)
                .bind("m", text)
                .execute();
    }

    /** Entries of one deploy with an id above {@code afterId}, oldest first. */
    public List<LogEntry> ofDeploy(String deployId, long afterId, int limit) {
        return db.withHandle(h -> map(h.createQuery("SELECT " + COLUMNS + " FROM log_entries "
                        + "WHERE deploy_id = :d AND id > :after ORDER BY id LIMIT :limit")
                .bind("d", deployId)
                .bind("after", afterId)
                .bind("limit", limit)));
    }

    static List<LogEntry> map(Query query) {
        return query.map((rs, ctx) -> new LogEntry(
                        rs.getLong("id"),
                        instant(rs, "time"),
                        rs.getString("source"),
                        rs.getString("deploy_id"),
                        rs.getString("release"),
                        rs.getString("message")))
                .list();
    }
}
