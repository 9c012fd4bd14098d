package dev.karta.server.keys;

import static dev.karta.server.http.Scope.ADMIN;
import static dev.karta.server.http.Scope.READ;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.karta.api.ApiKeyList;
import dev.karta.api.CreateApiKey;
import dev.karta.api.CreatedApiKey;
import dev.karta.api.Printable;
import dev.karta.api.WhoAmI;
import dev.karta.server.http.ApiError;
import dev.karta.server.http.Idempotency;
import dev.karta.server.http.Principal;
import dev.karta.server.http.Requests;
import dev.karta.server.http.Routes;
import dev.karta.server.http.Scope;
import io.javalin.config.JavalinConfig;
import io.javalin.config.RoutesConfig;
import io.javalin.http.Context;
import java.util.List;

/** Handlers of {@code /whoami} and {@code /api_keys}. */
public final class KeyRoutes implements Routes {
    private static final int MAX_NAME = 100;

    private final ApiKeys keys;
    private final Idempotency idempotency;
    private final ObjectMapper json;

    public KeyRoutes(ApiKeys keys, Idempotency idempotency, ObjectMapper json) {
        this.keys = keys;
        this.idempotency = idempotency;
        this.json = json;
    }

    @Override
    public void register(JavalinConfig config) {
        RoutesConfig r = config.routes;
        r.get("/whoami", this::whoami, READ);
        r.get("/api_keys", this::list, READ);
        r.post("/api_keys", this::create, ADMIN);
        r.delete("/api_keys/{id}", this::revoke, ADMIN);
    }

    public void whoami(Context ctx) {
        Principal p = Requests.principal(ctx);
        ctx.json(new WhoAmI(p.orgName(), new WhoAmI.Key(p.keyId(), p.keyName(), List.of(p.scope().wireName()))));
    }

    public void list(Context ctx) {
        ctx.json(new ApiKeyList(keys.list(Requests.principal(ctx).orgId())));
    }

    public void create(Context ctx) {
        CreateApiKey body = Requests.json(ctx, json, CreateApiKey.class);
        String name = body.name() == null ? "" : body.name().trim();
        if (name.isEmpty() || name.length() > MAX_NAME) {
            throw ApiError.badRequest("key name is required, at most " + MAX_NAME + " characters");
        }
        if (Printable.hasControlCharacters(body.name())) {
            throw ApiError.badRequest("key name must not contain control characters (line breaks, escapes)");
        }
        if (body.scopes() == null || body.scopes().size() != 1 || Scope.parse(body.scopes().get(0)) == null) {
            throw ApiError.badRequest("scopes must hold exactly one of \"read\", \"write\", \"admin\"");
        }
        Scope scope = Scope.parse(body.scopes().get(0));
        // A retry names the same key but never repeats its secret: answers are stored in the
        // database, and a secret is shown once and never kept.
        idempotency.respond(ctx, "api_key.create:" + name + ":" + scope.wireName(), () -> {
            ApiKeys.Minted minted = keys.create(Requests.actor(ctx), name, scope);
            return new Idempotency.Answer(201, new CreatedApiKey(minted.key(), minted.secret()),
                    new CreatedApiKey(minted.key(), null));
        });
    }

    public void revoke(Context ctx) {
        String id = ctx.pathParam("id");
        idempotency.respond(ctx, "api_key.revoke:" + id, () -> {
            keys.revoke(Requests.actor(ctx), id);
            return new Idempotency.Answer(204, null);
        });
    }
}
