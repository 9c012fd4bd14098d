package dev.karta.server.audit;

import static dev.karta.server.http.Scope.ADMIN;

import dev.karta.api.AuditEventList;
import dev.karta.server.http.Requests;
import dev.karta.server.http.Routes;
import io.javalin.config.JavalinConfig;
import io.javalin.config.RoutesConfig;
import io.javalin.http.Context;

/** Handler of {@code GET /audit_events}. */
public final class AuditRoutes implements Routes {
    private final AuditLog audit;

    public AuditRoutes(AuditLog audit) {
        this.audit = audit;
    }

    @Override
    public void register(JavalinConfig config) {
        RoutesConfig r = config.routes;
        r.get("/audit_events", this::list, ADMIN);
    }

    public void list(Context ctx) {
        int limit = Requests.limit(ctx, 100, 1000);
        ctx.json(new AuditEventList(audit.recent(Requests.principal(ctx).orgId(), limit)));
    }
}
