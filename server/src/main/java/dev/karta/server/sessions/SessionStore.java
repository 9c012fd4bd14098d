package dev.karta.server.sessions;

import static dev.karta.server.store.Rows.instant;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.karta.server.store.Database;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Duration;
import java.time.Instant;
import java.util.Collection;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import org.jdbi.v3.core.Handle;
import org.jdbi.v3.core.statement.Query;

/**
 * SQL of the {@code sessions} and {@code session_turns} tables. A session is live while it is
 * running, or idle and touched within the idle timeout; an idle session past it is ended, on
 * read at once and in the table when the sweeper gets to it. The one-turn-at-a-time rule is
 * the conditional {@code UPDATE … WHERE status = 'idle'} of {@link #claim}.
 */
final class SessionStore {
    /**
     * The release a session runs, over the alias {@code s}: a production release {@code r} or a
     * preview release {@code pr} of the preview {@code pv} (the row names exactly one).
     */
    private static final String RELEASE = """
             LEFT JOIN releases r ON r.id = s.release_id
             LEFT JOIN preview_releases pr ON pr.id = s.preview_release_id
             LEFT JOIN previews pv ON pv.id = pr.preview_id
            """;
    /** The version a session runs, {@code v3} or {@code pr-42.2}, over {@link #RELEASE}. */
    private static final String VERSION =
            "CASE WHEN r.id IS NOT NULL THEN 'v' || r.number ELSE pv.name || '.' || pr.seq END";
    private static final String SELECT = "SELECT s.*, p.name AS project_name, " + VERSION + " AS version, "
            + "pv.name AS preview_name, COALESCE(r.harness, pr.harness) AS release_harness, "
            + "COALESCE(r.content_digest, pr.content_digest) AS release_digest "
            + "FROM sessions s JOIN projects p ON p.id = s.project_id" + RELEASE;
    /**
     * The one definition of a live session over the alias {@code s}: running, or idle and touched
     * after {@code :cutoff} (see {@link #cutoff}).
     */
    private static final String LIVE = "(s.status = 'running' OR (s.status = 'idle' AND s.updated_at > :cutoff))";
    private static final TypeReference<Map<String, String>> METADATA = new TypeReference<>() {
    };

    /** A session that needs housekeeping, with what its log line names. */
    record Stale(String id, String projectId, String version, String turnId) {
    }

    private final Database db;
    private final ObjectMapper json;
    private final long idleMillis;

    SessionStore(Database db, ObjectMapper json, Duration idleTimeout) {
        this.db = db;
        this.json = json;
        this.idleMillis = idleTimeout.toMillis();
    }

    /** Sessions last touched at or before this moment have timed out. */
    private long cutoff(long now) {
        return now - idleMillis;
    }

    /**
     * Inserts an idle session pinned to {@code releaseId}, or, when {@code preview}, to the preview
     * release {@code releaseId}.
     */
    void insert(Handle h, String id, String projectId, String releaseId, boolean preview, Map<String, String> metadata,
                long now) {
        h.createUpdate("""
                        INSERT INTO sessions (id, project_id, release_id, preview_release_id, status, metadata, turns,
                                              created_at, updated_at)
                        VALUES (:id, :p, :r, :pr, 'idle', :meta, 0, :now, :now)
                        """)
                .bind("id", id).bind("p", projectId).bind("r", preview ? null : releaseId)
                .bind("pr", preview ? releaseId : null).bind("meta", write(metadata))
                .bind("now", now)
                .execute();
    }

    /** Sessions of an org that have not ended (running, or idle and not timed out). */
    long countLive(Handle h, String orgId, long now) {
        return h.createQuery("""
                        SELECT COUNT(*) FROM sessions s JOIN projects p ON p.id = s.project_id
                        WHERE p.org_id = :org AND
                        """ + LIVE)
                .bind("org", orgId).bind("cutoff", cutoff(now))
                .mapTo(Long.class).one();
    }

    /** Turns of an org running now; one past its deadline was interrupted and no longer counts. */
    long countRunning(Handle h, String orgId, long now) {
        return h.createQuery("""
                        SELECT COUNT(*) FROM sessions s JOIN projects p ON p.id = s.project_id
                        WHERE p.org_id = :org AND s.status = 'running' AND s.turn_deadline >= :now
                        """)
                .bind("org", orgId).bind("now", now)
                .mapTo(Long.class).one();
    }

    Optional<SessionRecord> find(Handle h, String projectId, String id) {
        long now = System.currentTimeMillis();
        return h.createQuery(SELECT + " WHERE s.id = :id AND s.project_id = :p")
                .bind("id", id).bind("p", projectId)
                .map((rs, ctx) -> map(rs, now)).findOne();
    }

    Optional<SessionRecord> find(String projectId, String id) {
        return db.withHandle(h -> find(h, projectId, id));
    }

    /** A project's sessions, newest first, optionally of one (effective) status. */
    /** The project's sessions, newest first; only those of preview {@code preview} when it is not null. */
    List<SessionRecord> list(String projectId, String preview, SessionStatus status, int limit) {
        long now = System.currentTimeMillis();
        String filter = status == null ? "" : switch (status) {
            case IDLE -> " AND s.status = 'idle' AND s.updated_at > :cutoff";
            case RUNNING -> " AND s.status = 'running'";
            case ENDED -> " AND (s.status = 'ended' OR (s.status = 'idle' AND s.updated_at <= :cutoff))";
        };
        String ofPreview = preview == null ? "" : " AND pv.name = :preview";
        return db.withHandle(h -> h.createQuery(SELECT + " WHERE s.project_id = :p" + ofPreview + filter
                        + " ORDER BY s.created_at DESC, s.id DESC LIMIT :limit")
                .bind("p", projectId).bind("preview", preview).bind("cutoff", cutoff(now)).bind("limit", limit)
                .map((rs, ctx) -> map(rs, now)).list());
    }

    /**
     * Moves an idle, unexpired session to running with {@code turnId}: true for exactly one of
     * any number of concurrent callers, on any server sharing the database.
     */
    boolean claim(Handle h, String sessionId, String turnId, long now, long turnDeadline) {
        return h.createUpdate("""
                        UPDATE sessions SET status = 'running', turn_id = :t, turn_deadline = :deadline, updated_at = :now
                        WHERE id = :id AND status = 'idle' AND updated_at > :cutoff
                        """)
                .bind("t", turnId).bind("deadline", turnDeadline).bind("now", now).bind("id", sessionId)
                .bind("cutoff", cutoff(now))
                .execute() == 1;
    }

    void insertTurn(Handle h, String turnId, String sessionId, String projectId, long now) {
        h.createUpdate("INSERT INTO session_turns (id, session_id, project_id, status, started_at) "
                        + "VALUES (:id, :s, :p, 'running', :now)")
                .bind("id", turnId).bind("s", sessionId).bind("p", projectId).bind("now", now)
                .execute();
    }

    /**
     * Records the end of a turn: the turn row, the session's turn count and harness conversation
     * id, and the session back to idle, unless it was ended (or recovered and re-claimed by
     * another turn) meanwhile.
     */
    void finishTurn(String sessionId, String turnId, String conversationId, String status, String error, long now) {
        db.inTransaction(h -> {
            h.createUpdate("""
                            UPDATE sessions SET turns = turns + 1,
                                   harness_session_id = COALESCE(:conv, harness_session_id),
                                   updated_at = :now,
                                   status = CASE WHEN status = 'running' AND turn_id = :t THEN 'idle' ELSE status END,
                                   turn_deadline = CASE WHEN turn_id = :t THEN NULL ELSE turn_deadline END,
                                   turn_id = CASE WHEN turn_id = :t THEN NULL ELSE turn_id END
                            WHERE id = :id
                            """)
                    .bind("conv", conversationId).bind("now", now).bind("t", turnId).bind("id", sessionId)
                    .execute();
            return h.createUpdate("UPDATE session_turns SET status = :status, error = :error, finished_at = :now "
                            + "WHERE id = :t AND status = 'running'")
                    .bind("status", status).bind("error", error).bind("now", now).bind("t", turnId)
                    .execute();
        });
    }

    /** Ends a live session; false when it had already ended (or timed out). */
    boolean end(String projectId, String sessionId, String reason, long now) {
        return db.inTransaction(h -> h.createUpdate("""
                        UPDATE sessions AS s SET status = 'ended', ended_at = :now, end_reason = :reason, updated_at = :now
                        WHERE s.id = :id AND s.project_id = :p AND
                        """ + LIVE)
                .bind("now", now).bind("reason", reason).bind("id", sessionId).bind("p", projectId)
                .bind("cutoff", cutoff(now))
                .execute() == 1);
    }

    /** Idle sessions past the timeout, still recorded as idle. */
    List<Stale> timedOut(long now) {
        return db.withHandle(h -> h.createQuery("SELECT s.id, s.project_id, " + VERSION + " AS version FROM sessions s"
                        + RELEASE + " WHERE s.status = 'idle' AND s.updated_at <= :cutoff")
                .bind("cutoff", cutoff(now))
                .map((rs, ctx) -> new Stale(rs.getString("id"), rs.getString("project_id"), rs.getString("version"),
                        null))
                .list());
    }

    /** Writes down the end of a timed-out session, dated when it expired; false if it moved on. */
    boolean endTimedOut(String sessionId, long now) {
        return db.inTransaction(h -> h.createUpdate("""
                        UPDATE sessions SET status = 'ended', ended_at = updated_at + :idle, end_reason = 'idle_timeout'
                        WHERE id = :id AND status = 'idle' AND updated_at <= :cutoff
                        """)
                .bind("idle", idleMillis).bind("id", sessionId).bind("cutoff", cutoff(now))
                .execute() == 1);
    }

    /** Running sessions whose turn is past its deadline: the server running it stopped. */
    List<Stale> interrupted(long now) {
        return db.withHandle(h -> h.createQuery("SELECT s.id, s.project_id, s.turn_id, " + VERSION
                        + " AS version FROM sessions s" + RELEASE + " WHERE s.status = 'running' AND s.turn_deadline < :now")
                .bind("now", now)
                .map((rs, ctx) -> new Stale(rs.getString("id"), rs.getString("project_id"), rs.getString("version"),
                        rs.getString("turn_id")))
                .list());
    }

    /** Puts a session whose turn was interrupted back to idle; false if it moved on. */
    boolean recover(Stale stale, long now) {
        return db.inTransaction(h -> {
            boolean reset = h.createUpdate("""
                            UPDATE sessions SET status = 'idle', turn_id = NULL, turn_deadline = NULL, updated_at = :now
                            WHERE id = :id AND status = 'running' AND turn_id = :t AND turn_deadline < :now
                            """)
                    .bind("now", now).bind("id", stale.id()).bind("t", stale.turnId())
                    .execute() == 1;
            if (reset) {
                h.createUpdate("UPDATE session_turns SET status = 'failed', finished_at = :now, "
                                + "error = 'interrupted: the server running it stopped' WHERE id = :t AND status = 'running'")
                        .bind("now", now).bind("t", stale.turnId())
                        .execute();
            }
            return reset;
        });
    }

    /** Those of {@code ids} that are live sessions. */
    Set<String> liveAmong(Collection<String> ids) {
        if (ids.isEmpty()) {
            return Set.of();
        }
        long now = System.currentTimeMillis();
        return new HashSet<>(db.withHandle(h -> h.createQuery("""
                        SELECT id FROM sessions
                        WHERE id IN (<ids>) AND (status = 'running' OR (status = 'idle' AND updated_at > :cutoff))
                        """)
                .bindList("ids", List.copyOf(ids)).bind("cutoff", cutoff(now))
                .mapTo(String.class).list()));
    }

    /** Ids of the releases live sessions of a project are pinned to. */
    Set<String> pinnedReleaseIds(String projectId) {
        long now = System.currentTimeMillis();
        return new HashSet<>(db.withHandle(h -> h.createQuery("""
                        SELECT DISTINCT s.release_id FROM sessions s
                        WHERE s.project_id = :p AND s.release_id IS NOT NULL AND
                        """ + LIVE)
                .bind("p", projectId).bind("cutoff", cutoff(now))
                .mapTo(String.class).list()));
    }

    /**
     * How many live sessions each release has, per project of {@code orgId} (only of
     * {@code projectId} unless it is null): project id → release number → count. Releases without
     * a live session are absent. One query, whatever the number of projects and releases.
     */
    Map<String, Map<Integer, Long>> liveByRelease(String orgId, String projectId) {
        long now = System.currentTimeMillis();
        String sql = """
                SELECT s.project_id, r.number, COUNT(*) AS live
                FROM sessions s JOIN releases r ON r.id = s.release_id JOIN projects p ON p.id = s.project_id
                WHERE p.org_id = :org AND
                """ + LIVE + (projectId == null ? "" : " AND s.project_id = :p") + " GROUP BY s.project_id, r.number";
        return db.withHandle(h -> {
            Query query = h.createQuery(sql).bind("org", orgId).bind("cutoff", cutoff(now));
            if (projectId != null) {
                query.bind("p", projectId);
            }
            return query.reduceRows(new HashMap<String, Map<Integer, Long>>(), (counts, row) -> {
                counts.computeIfAbsent(row.getColumn("project_id", String.class), p -> new HashMap<>())
                        .put(row.getColumn("number", Integer.class), row.getColumn("live", Long.class));
                return counts;
            });
        });
    }

    private SessionRecord map(ResultSet rs, long now) throws SQLException {
        SessionStatus status = SessionStatus.parse(rs.getString("status"));
        long updated = rs.getLong("updated_at");
        Instant endedAt = instant(rs, "ended_at");
        String endReason = rs.getString("end_reason");
        if (status == SessionStatus.IDLE && updated <= cutoff(now)) {
            status = SessionStatus.ENDED;
            endedAt = Instant.ofEpochMilli(updated + idleMillis);
            endReason = "idle_timeout";
        }
        return new SessionRecord(
                rs.getString("id"),
                rs.getString("project_id"),
                rs.getString("project_name"),
                rs.getString("release_id") != null ? rs.getString("release_id") : rs.getString("preview_release_id"),
                rs.getString("version"),
                rs.getString("preview_name"),
                rs.getString("release_harness"),
                rs.getString("release_digest"),
                status,
                read(rs.getString("metadata")),
                rs.getInt("turns"),
                rs.getString("harness_session_id"),
                instant(rs, "created_at"),
                Instant.ofEpochMilli(updated),
                endedAt,
                endReason);
    }

    private String write(Map<String, String> metadata) {
        try {
            return json.writeValueAsString(metadata);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
    }

    private Map<String, String> read(String metadata) {
        try {
            return json.readValue(metadata, METADATA);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("unreadable session metadata", e);
        }
    }
}
