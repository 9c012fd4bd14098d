package dev.karta.server.ledger;

import static dev.karta.server.http.Scope.ADMIN;

import dev.karta.api.Durations;
import dev.karta.server.http.ApiError;
import dev.karta.server.http.Requests;
import dev.karta.server.http.Routes;
import io.javalin.config.JavalinConfig;
import io.javalin.config.RoutesConfig;
import io.javalin.http.Context;
import java.io.BufferedWriter;
import java.io.IOException;
import java.io.OutputStreamWriter;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.time.Instant;

/** Handlers of {@code GET /audit_events/verify} and {@code GET /audit_events/export}. */
public final class LedgerRoutes implements Routes {
    private final LedgerReader ledger;

    public LedgerRoutes(LedgerReader ledger) {
        this.ledger = ledger;
    }

    @Override
    public void register(JavalinConfig config) {
        RoutesConfig r = config.routes;
        r.get("/audit_events/verify", this::verify, ADMIN);
        r.get("/audit_events/export", this::export, ADMIN);
    }

    public void verify(Context ctx) {
        ctx.json(ledger.verify(Requests.principal(ctx).orgId()));
    }

    /**
     * Streams JSON Lines as they are read: a client that stops reading holds one page, and an
     * error after the first line ends the response without its last chunk, which clients see as
     * a broken transfer rather than a short export.
     */
    public void export(Context ctx) throws IOException {
        Instant since;
        try {
            since = Durations.timeOrAge(ctx.queryParam("since"), Instant.now());
        } catch (IllegalArgumentException e) {
            throw ApiError.badRequest("invalid since '" + ctx.queryParam("since") + "': " + Durations.TIME_FORMS);
        }
        String orgId = Requests.principal(ctx).orgId();
        ctx.status(200);
        ctx.contentType("application/x-ndjson; charset=utf-8");
        try (Writer out = new BufferedWriter(new OutputStreamWriter(ctx.res().getOutputStream(),
                StandardCharsets.UTF_8))) {
            ledger.export(orgId, since, out);
        }
    }
}
