package dev.karta.server.audit;

import dev.karta.api.AuditEventList;
import dev.karta.server.http.Requests;
import io.javalin.http.Context;

/** Handler of {@code GET /audit_events}. */
public final class AuditRoutes {
    private final AuditLog audit;

    public AuditRoutes(AuditLog audit) {
        this.audit = audit;
    }

    public void list(Context ctx) {
        int limit = Requests.limit(ctx, 100, 1000);
        ctx.json(new AuditEventList(audit.recent(Requests.principal(ctx).orgId(), limit)));
    }
}
