package dev.karta.server.audit;

import static dev.karta.server.store.Rows.instant;

import dev.karta.api.AuditEvent;
import dev.karta.server.http.Actor;
import dev.karta.server.store.Database;
import java.time.Instant;
import java.util.List;
import org.jdbi.v3.core.Handle;

/** Appends and lists audit events. There is deliberately no way to change or remove one. */
public final class AuditLog {
    private final Database db;

    public AuditLog(Database db) {
        this.db = db;
    }

    /** Appends an event inside the caller's transaction, so it commits or rolls back with the change. */
    public void append(Handle h, Actor actor, String action, String resource) {
        h.createUpdate("""
                        INSERT INTO audit_events (org_id, actor_key_id, action, resource, created_at, request_id, remote_ip)
                        VALUES (:org, :key, :action, :resource, :at, :request, :ip)
                        """)
                .bind("org", actor.orgId())
                .bind("key", actor.keyId())
                .bind("action", action)
                .bind("resource", resource)
                .bind("at", Instant.now().toEpochMilli())
                .bind("request", actor.requestId())
                .bind("ip", actor.remoteIp())
                .execute();
    }

    /** The newest {@code limit} events of one org, newest first. */
    public List<AuditEvent> recent(String orgId, int limit) {
        return db.withHandle(h -> h.createQuery("""
                        SELECT id, actor_key_id, action, resource, created_at, request_id, remote_ip
                        FROM audit_events WHERE org_id = :org ORDER BY id DESC LIMIT :limit
                        """)
                .bind("org", orgId)
                .bind("limit", limit)
                .map((rs, ctx) -> new AuditEvent(
                        rs.getLong("id"),
                        rs.getString("actor_key_id"),
                        rs.getString("action"),
                        rs.getString("resource"),
                        instant(rs, "created_at"),
                        rs.getString("request_id"),
                        rs.getString("remote_ip")))
                .list());
    }
}
