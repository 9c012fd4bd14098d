package dev.karta.server.keys;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.karta.api.ApiKeyList;
import dev.karta.api.CreateApiKey;
import dev.karta.api.CreatedApiKey;
import dev.karta.api.Printable;
import dev.karta.api.WhoAmI;
import dev.karta.server.http.ApiError;
import dev.karta.server.http.Requests;
import io.javalin.http.Context;
import java.util.List;

/** Handlers of {@code /whoami} and {@code /api_keys}. */
public final class KeyRoutes {
    private static final int MAX_NAME = 100;

    private final ApiKeys keys;
    private final ObjectMapper json;

    public KeyRoutes(ApiKeys keys, ObjectMapper json) {
        this.keys = keys;
        this.json = json;
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
        ApiKeys.Minted minted = keys.create(Requests.actor(ctx), name, Scope.parse(body.scopes().get(0)));
        ctx.status(201).json(new CreatedApiKey(minted.key(), minted.secret()));
    }

    public void revoke(Context ctx) {
        keys.revoke(Requests.actor(ctx), ctx.pathParam("id"));
        ctx.status(204);
    }
}
