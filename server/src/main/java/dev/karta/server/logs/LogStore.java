package dev.karta.server.logs;

import static dev.karta.server.store.Rows.instant;

import dev.karta.api.LogEntry;
import dev.karta.api.Printable;
import dev.karta.server.store.Database;
import dev.karta.server.store.Dialect;
import dev.karta.server.store.Notifications;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import org.jdbi.v3.core.Handle;
import org.jdbi.v3.core.statement.Query;

/**
 * Appends, reads and prunes log entries. Messages longer than {@value #MAX_MESSAGE} characters
 * are cut with a marker, never rejected. Every entry is stored as one line with its terminal
 * control sequences and control characters removed ({@link Printable#line}): a message may carry a tenant's text (a karta.toml
 * value, a builder's output), and whoever shows it, a terminal or a git push's {@code remote:}
 * lines, must not be driven by it. Every append wakes the followers of its project.
 *
 * <p>Ids are the order of writing within a project: a reader that has seen id N never later finds
 * a smaller id committed. On SQLite that holds because writers are serialized and AUTOINCREMENT
 * never reuses an id. On PostgreSQL sequence values can commit out of order, so each append first
 * locks the project's {@code log_heads} row (held until commit) and only then takes its id.
 *
 * <p>On PostgreSQL every append also sends the project's id on {@value #CHANNEL} in its own
 * transaction ({@link Notifications}): PostgreSQL delivers it when the transaction commits (never
 * for a rollback, and once for repeats within one transaction), and {@link LogWakeups} on every
 * other server turns it into a wake-up of that project's followers.
 */
public final class LogStore {
    static final int MAX_MESSAGE = 8192;
    /** The PostgreSQL notification channel of log appends. */
    static final String CHANNEL = "karta_log_appends";
    private static final String COLUMNS = "id, time, source, deploy_id, release, message";

    private final Database db;
    private final LogBus bus;
    private final Notifications notifications;

    public LogStore(Database db, LogBus bus, Notifications notifications) {
        this.db = db;
        this.bus = bus;
        this.notifications = notifications;
    }

    public LogBus bus() {
        return bus;
    }

    /** Appends one entry in its own transaction and wakes the project's followers. */
    public void append(String projectId, LogSource source, String deployId, String release, String message) {
        db.inTransaction(h -> {
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

    private void insert(Handle h, String projectId, LogSource source, String deployId, String release,
                        String message) {
        String line = Printable.line(message);
        String text = line.length() > MAX_MESSAGE
                ? line.substring(0, MAX_MESSAGE) + " …[truncated " + (line.length() - MAX_MESSAGE) + " chars]"
                : line;
        if (db.dialect() == Dialect.POSTGRES) {
            h.createUpdate("INSERT INTO log_heads (project_id, appends) VALUES (:p, 1) "
                            + "ON CONFLICT (project_id) DO UPDATE SET appends = log_heads.appends + 1")
                    .bind("p", projectId)
                    .execute();
            notifications.send(h, CHANNEL, projectId);
        }
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

    /**
     * The newest {@code limit} entries of a project with {@code since <= time < until} (either
     * bound may be null), oldest first.
     */
    List<LogEntry> window(String projectId, Instant since, Instant until, LogSource source, int limit) {
        LogFilter filter = new LogFilter(source, null);
        List<LogEntry> newestFirst = db.withHandle(h -> {
            Query query = filter.bind(h.createQuery("SELECT " + COLUMNS + " FROM log_entries WHERE project_id = :p"
                            + (since == null ? "" : " AND time >= :since")
                            + (until == null ? "" : " AND time < :until")
                            + filter.sql() + " ORDER BY id DESC LIMIT :limit"))
                    .bind("p", projectId)
                    .bind("limit", limit);
            if (since != null) {
                query.bind("since", since.toEpochMilli());
            }
            if (until != null) {
                query.bind("until", until.toEpochMilli());
            }
            return map(query);
        });
        List<LogEntry> oldestFirst = new ArrayList<>(newestFirst);
        Collections.reverse(oldestFirst);
        return oldestFirst;
    }

    /** The highest id of a project's entries, or 0. */
    long lastId(String projectId) {
        return db.withHandle(h -> h.createQuery("SELECT COALESCE(MAX(id), 0) FROM log_entries WHERE project_id = :p")
                .bind("p", projectId)
                .mapTo(Long.class)
                .one());
    }

    /** The cursor before the newest {@code count} entries matching {@code filter}: replay starts after it. */
    long cursorBeforeLast(String projectId, LogFilter filter, int count) {
        Long id = db.withHandle(h -> filter.bind(h.createQuery("SELECT id FROM log_entries WHERE project_id = :p"
                        + filter.sql() + " ORDER BY id DESC LIMIT 1 OFFSET :skip"))
                .bind("p", projectId)
                .bind("skip", count)
                .mapTo(Long.class)
                .findOne()
                .orElse(null));
        return id == null ? 0 : id;
    }

    /** The cursor before the first entry written at or after {@code since}: replay starts after it. */
    long cursorBefore(String projectId, Instant since) {
        Long first = db.withHandle(h -> h.createQuery("SELECT MIN(id) FROM log_entries "
                        + "WHERE project_id = :p AND time >= :since")
                .bind("p", projectId)
                .bind("since", since.toEpochMilli())
                .mapTo(Long.class)
                .findOne()
                .orElse(null));
        return first == null ? lastId(projectId) : first - 1;
    }

    /**
     * Entries matching {@code filter} with an id above {@code afterId}, oldest first, and how far
     * the read got: every entry of the project up to {@link Page#scannedTo} that matches is in the
     * page (or was before {@code afterId}), even those the filter skipped past.
     */
    Page after(String projectId, long afterId, LogFilter filter, int limit) {
        return db.withHandle(h -> {
            // Bounded by the head read first: everything at or below it is committed (see class doc).
            long head = h.createQuery("SELECT COALESCE(MAX(id), 0) FROM log_entries WHERE project_id = :p")
                    .bind("p", projectId)
                    .mapTo(Long.class)
                    .one();
            List<LogEntry> entries = map(filter.bind(h.createQuery("SELECT " + COLUMNS + " FROM log_entries "
                            + "WHERE project_id = :p AND id > :after AND id <= :head" + filter.sql()
                            + " ORDER BY id LIMIT :limit"))
                    .bind("p", projectId)
                    .bind("after", afterId)
                    .bind("head", head)
                    .bind("limit", limit));
            long scanned = entries.size() == limit ? entries.get(entries.size() - 1).id() : Math.max(head, afterId);
            return new Page(entries, scanned);
        });
    }

    /** All entries of a project with an id above {@code afterId}, oldest first: what a feed fans out. */
    List<LogEntry> following(String projectId, long afterId, int limit) {
        return db.withHandle(h -> map(h.createQuery("SELECT " + COLUMNS + " FROM log_entries "
                        + "WHERE project_id = :p AND id > :after ORDER BY id LIMIT :limit")
                .bind("p", projectId)
                .bind("after", afterId)
                .bind("limit", limit)));
    }

    /** A page of entries and the id up to which the project's log was read. */
    record Page(List<LogEntry> entries, long scannedTo) {
    }

    /** Entries of one deploy with an id above {@code afterId}, oldest first. */
    public List<LogEntry> ofDeploy(String deployId, long afterId, int limit) {
        return db.withHandle(h -> map(h.createQuery("SELECT " + COLUMNS + " FROM log_entries "
                        + "WHERE deploy_id = :d AND id > :after ORDER BY id LIMIT :limit")
                .bind("d", deployId)
                .bind("after", afterId)
                .bind("limit", limit)));
    }

    /** Every project (cheaper to list than the distinct projects of a large log). */
    List<String> projects() {
        return db.withHandle(h -> h.createQuery("SELECT id FROM projects")
                .mapTo(String.class)
                .list());
    }

    /**
     * Deletes up to {@code batch} entries of a project that are older than {@code cutoff} or
     * beyond its newest {@code keep}; returns how many went. Small batches keep each write short.
     */
    int prune(String projectId, Instant cutoff, int keep, int batch) {
        return db.inTransaction(h -> {
            Long lastDropped = h.createQuery("SELECT id FROM log_entries WHERE project_id = :p "
                            + "ORDER BY id DESC LIMIT 1 OFFSET :keep")
                    .bind("p", projectId)
                    .bind("keep", keep)
                    .mapTo(Long.class)
                    .findOne()
                    .orElse(0L);
            return h.createUpdate("DELETE FROM log_entries WHERE id IN (SELECT id FROM log_entries "
                            + "WHERE project_id = :p AND (time < :cutoff OR id <= :dropped) ORDER BY id LIMIT :batch)")
                    .bind("p", projectId)
                    .bind("cutoff", cutoff.toEpochMilli())
                    .bind("dropped", lastDropped)
                    .bind("batch", batch)
                    .execute();
        });
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
