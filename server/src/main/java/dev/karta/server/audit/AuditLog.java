package dev.karta.server.audit;

import static dev.karta.server.store.Rows.instant;

import dev.karta.api.AuditEvent;
import dev.karta.server.http.Actor;
import dev.karta.server.ledger.Chains;
import dev.karta.server.ledger.Ledger;
import dev.karta.server.store.Database;
import dev.karta.server.store.Dialect;
import java.time.Instant;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.jdbi.v3.core.Handle;

/**
 * Appends and lists audit events. There is deliberately no way to change or remove one. Each
 * event is chained to the previous event of its org ({@link Ledger}): its id is taken before the
 * insert, because the hash covers it.
 */
public final class AuditLog {
    private final Database db;

    public AuditLog(Database db) {
        this.db = db;
    }

    /** Appends an event inside the caller's transaction, so it commits or rolls back with the change. */
    public void append(Handle h, Actor actor, String action, String resource) {
        append(h, actor, action, resource, null);
    }

    /**
     * Like {@link #append(Handle, Actor, String, String)}, recording {@code releaseHash}, the hash
     * of a release chain's last entry that the event ends (a project's deletion), in the hashed
     * fields. Call it last in the transaction: it takes the org chain's lock until commit.
     */
    public void append(Handle h, Actor actor, String action, String resource, String releaseHash) {
        Ledger.lockAuditChain(h, db.dialect(), actor.orgId());
        String prev = Chains.auditHead(h, actor.orgId());
        long id = nextId(h);
        long at = Instant.now().toEpochMilli();
        Map<String, Object> fields = new HashMap<>();
        fields.put("id", id);
        fields.put("org_id", actor.orgId());
        fields.put("actor_key_id", actor.keyId());
        fields.put("action", action);
        fields.put("resource", resource);
        fields.put("created_at", Ledger.time(at));
        fields.put("request_id", actor.requestId());
        fields.put("remote_ip", actor.remoteIp());
        fields.put("release_hash", releaseHash);
        String hash = Ledger.hash(Ledger.entry(Ledger.AUDIT_EVENT, fields, prev));
        h.createUpdate("""
                        INSERT INTO audit_events (id, org_id, actor_key_id, action, resource, created_at, request_id,
                                                  remote_ip, release_hash, prev_hash, hash)
                        VALUES (:id, :org, :key, :action, :resource, :at, :request, :ip, :release, :prev, :hash)
                        """)
                .bind("id", id)
                .bind("org", actor.orgId())
                .bind("key", actor.keyId())
                .bind("action", action)
                .bind("resource", resource)
                .bind("at", at)
                .bind("request", actor.requestId())
                .bind("ip", actor.remoteIp())
                .bind("release", releaseHash)
                .bind("prev", prev)
                .bind("hash", hash)
                .execute();
    }

    /**
     * The id the next event gets. PostgreSQL: the serial's sequence, taken under the chain's lock,
     * so one org's ids grow in commit order. SQLite (one writer): one past the highest id used.
     */
    private long nextId(Handle h) {
        if (db.dialect() == Dialect.POSTGRES) {
            return h.select("SELECT nextval(pg_get_serial_sequence('audit_events', 'id'))").mapTo(Long.class).one();
        }
        return h.select("""
                        SELECT MAX(used) + 1 FROM (
                            SELECT COALESCE(MAX(id), 0) AS used FROM audit_events
                            UNION ALL SELECT seq FROM sqlite_sequence WHERE name = 'audit_events') ids
                        """).mapTo(Long.class).one();
    }

    /** The newest {@code limit} events of one org, newest first. */
    public List<AuditEvent> recent(String orgId, int limit) {
        return recent(orgId, Long.MAX_VALUE, limit);
    }

    /** The newest {@code limit} events of one org older than event {@code beforeId}, newest first. */
    public List<AuditEvent> recent(String orgId, long beforeId, int limit) {
        return db.withHandle(h -> h.createQuery("""
                        SELECT id, actor_key_id, action, resource, created_at, request_id, remote_ip, release_hash,
                               prev_hash, hash
                        FROM audit_events WHERE org_id = :org AND id < :before ORDER BY id DESC LIMIT :limit
                        """)
                .bind("org", orgId)
                .bind("before", beforeId)
                .bind("limit", limit)
                .map((rs, ctx) -> new AuditEvent(
                        rs.getLong("id"),
                        rs.getString("actor_key_id"),
                        rs.getString("action"),
                        rs.getString("resource"),
                        instant(rs, "created_at"),
                        rs.getString("request_id"),
                        rs.getString("remote_ip"),
                        rs.getString("release_hash"),
                        rs.getString("prev_hash"),
                        rs.getString("hash")))
                .list());
    }
}
