package dev.karta.server.config;

import static dev.karta.server.http.Scope.ADMIN;
import static dev.karta.server.http.Scope.READ;
import static dev.karta.server.http.Scope.WRITE;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.karta.api.ConfigPatch;
import dev.karta.server.http.ApiError;
import dev.karta.server.http.Authenticator;
import dev.karta.server.http.Idempotency;
import dev.karta.server.http.Requests;
import dev.karta.server.http.Routes;
import dev.karta.server.store.SecretBox;
import io.javalin.config.JavalinConfig;
import io.javalin.http.Context;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * {@code GET /agent_projects/{p}/config} (read: names only; {@code ?reveal=true} needs admin) and
 * {@code PATCH /agent_projects/{p}/config} (write) with {@code {"set":{…},"unset":[…]}}. The body is
 * read as a tree and checked field by field, so no error quotes a value.
 */
public final class ConfigRoutes implements Routes {
    private final Configs configs;
    private final Idempotency idempotency;
    private final ObjectMapper json;
    private final SecretBox box;

    public ConfigRoutes(Configs configs, Idempotency idempotency, ObjectMapper json, SecretBox box) {
        this.configs = configs;
        this.idempotency = idempotency;
        this.json = json;
        this.box = box;
    }

    @Override
    public void register(JavalinConfig config) {
        config.routes.get("/agent_projects/{project}/config", this::show, READ);
        config.routes.patch("/agent_projects/{project}/config", this::change, WRITE);
    }

    void show(Context ctx) {
        String reveal = ctx.queryParam("reveal");
        boolean revealed = reveal != null && !reveal.equals("false") && !reveal.equals("0");
        if (revealed) {
            // The route is open to read keys for the names; values are for admins only.
            Authenticator.requireScope(Requests.principal(ctx), ADMIN);
        }
        ctx.json(configs.view(Requests.principal(ctx).orgId(), ctx.pathParam("project"), revealed));
    }

    void change(Context ctx) {
        byte[] raw = ctx.bodyAsBytes();
        ConfigPatch patch = parse(Requests.secretJson(ctx, json, JsonNode.class));
        String project = ctx.pathParam("project");
        // A keyed digest: the fingerprint is stored in plain text and must not let anyone test a
        // guessed value.
        String fingerprint = "config:" + project + ":" + box.digest(new String(raw, StandardCharsets.UTF_8));
        idempotency.respond(ctx, fingerprint, () ->
                new Idempotency.Answer(200, configs.change(Requests.actor(ctx), Idempotency.key(ctx), project, patch)));
    }

    /** The patch in {@code body}: 400 naming the field (or variable) that has the wrong shape. */
    static ConfigPatch parse(JsonNode body) {
        if (!body.isObject()) {
            throw ApiError.badRequest("the body must be a JSON object: {\"set\":{\"NAME\":\"value\"},\"unset\":[\"NAME\"]}");
        }
        Iterator<String> fields = body.fieldNames();
        while (fields.hasNext()) {
            String field = fields.next();
            if (!field.equals("set") && !field.equals("unset")) {
                throw ApiError.badRequest("unknown field '" + field + "': a config change has \"set\" and \"unset\"");
            }
        }
        Map<String, String> set = new LinkedHashMap<>();
        JsonNode setNode = body.get("set");
        if (setNode != null && !setNode.isNull()) {
            if (!setNode.isObject()) {
                throw ApiError.badRequest("'set' must be an object of names to string values");
            }
            setNode.fields().forEachRemaining(e -> {
                if (!e.getValue().isTextual()) {
                    throw ApiError.badRequest("the value of " + e.getKey() + " in 'set' must be a string"
                            + (e.getValue().isNull() ? "; to remove the var, list it in 'unset'" : ""));
                }
                set.put(e.getKey(), e.getValue().textValue());
            });
        }
        List<String> unset = new ArrayList<>();
        JsonNode unsetNode = body.get("unset");
        if (unsetNode != null && !unsetNode.isNull()) {
            if (!unsetNode.isArray()) {
                throw ApiError.badRequest("'unset' must be an array of names");
            }
            for (JsonNode name : unsetNode) {
                if (!name.isTextual()) {
                    throw ApiError.badRequest("'unset' must hold names (strings) only");
                }
                unset.add(name.textValue());
            }
        }
        return new ConfigPatch(set, unset);
    }
}
