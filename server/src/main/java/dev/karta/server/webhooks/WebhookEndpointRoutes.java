package dev.karta.server.webhooks;

import static dev.karta.server.http.Scope.ADMIN;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.karta.api.CreateWebhookEndpoint;
import dev.karta.api.UpdateWebhookEndpoint;
import dev.karta.api.WebhookDeliveryList;
import dev.karta.api.WebhookEndpointList;
import dev.karta.api.WebhookEndpointSecret;
import dev.karta.server.http.ApiError;
import dev.karta.server.http.Idempotency;
import dev.karta.server.http.Requests;
import dev.karta.server.http.Routes;
import io.javalin.config.JavalinConfig;
import io.javalin.config.RoutesConfig;
import io.javalin.http.Context;

/**
 * Handlers of {@code /webhook_endpoints}: all admin, since endpoint URLs may carry tokens and
 * an endpoint receives the whole org's events.
 */
public final class WebhookEndpointRoutes implements Routes {
    static final int DEFAULT_DELIVERIES = 50;
    static final int MAX_DELIVERIES = 200;

    private final WebhookEndpoints endpoints;
    private final Idempotency idempotency;
    private final ObjectMapper json;

    public WebhookEndpointRoutes(WebhookEndpoints endpoints, Idempotency idempotency, ObjectMapper json) {
        this.endpoints = endpoints;
        this.idempotency = idempotency;
        this.json = json;
    }

    @Override
    public void register(JavalinConfig config) {
        RoutesConfig r = config.routes;
        r.get("/webhook_endpoints", this::list, ADMIN);
        r.post("/webhook_endpoints", this::create, ADMIN);
        r.get("/webhook_endpoints/{id}", this::get, ADMIN);
        r.patch("/webhook_endpoints/{id}", this::update, ADMIN);
        r.delete("/webhook_endpoints/{id}", this::delete, ADMIN);
        r.post("/webhook_endpoints/{id}/rotate-secret", this::rotate, ADMIN);
        r.post("/webhook_endpoints/{id}/test", this::test, ADMIN);
        r.get("/webhook_endpoints/{id}/deliveries", this::deliveries, ADMIN);
        r.post("/webhook_endpoints/{id}/deliveries/{delivery}/retry", this::retry, ADMIN);
    }

    void list(Context ctx) {
        ctx.json(new WebhookEndpointList(endpoints.list(Requests.principal(ctx).orgId())));
    }

    void create(Context ctx) {
        CreateWebhookEndpoint body = Requests.json(ctx, json, CreateWebhookEndpoint.class);
        // A retry answers the same endpoint but never repeats its secret (answers are stored).
        idempotency.respond(ctx, "webhook_endpoint.create:" + body.url() + ":" + body.events(), () -> {
            WebhookEndpoints.WithSecret created = endpoints.create(Requests.actor(ctx), body.url(), body.events(),
                    body.description());
            return new Idempotency.Answer(201, new WebhookEndpointSecret(created.endpoint(), created.secret()),
                    new WebhookEndpointSecret(created.endpoint(), null));
        });
    }

    void get(Context ctx) {
        ctx.json(endpoints.get(Requests.principal(ctx).orgId(), ctx.pathParam("id")));
    }

    void update(Context ctx) {
        UpdateWebhookEndpoint body = Requests.json(ctx, json, UpdateWebhookEndpoint.class);
        ctx.json(endpoints.update(Requests.actor(ctx), ctx.pathParam("id"), body.url(), body.events(), body.enabled(),
                body.description()));
    }

    void delete(Context ctx) {
        String id = ctx.pathParam("id");
        idempotency.respond(ctx, "webhook_endpoint.delete:" + id, () -> {
            endpoints.delete(Requests.actor(ctx), id);
            return new Idempotency.Answer(204, null);
        });
    }

    void rotate(Context ctx) {
        String id = ctx.pathParam("id");
        idempotency.respond(ctx, "webhook_endpoint.rotate:" + id, () -> {
            WebhookEndpoints.WithSecret rotated = endpoints.rotateSecret(Requests.actor(ctx), id);
            return new Idempotency.Answer(200, new WebhookEndpointSecret(rotated.endpoint(), rotated.secret()),
                    new WebhookEndpointSecret(rotated.endpoint(), null));
        });
    }

    void test(Context ctx) {
        ctx.status(202).json(endpoints.test(Requests.actor(ctx), ctx.pathParam("id")));
    }

    void deliveries(Context ctx) {
        int limit = Requests.limit(ctx, DEFAULT_DELIVERIES, MAX_DELIVERIES);
        ctx.json(new WebhookDeliveryList(endpoints.deliveries(Requests.principal(ctx).orgId(), ctx.pathParam("id"),
                limit)));
    }

    void retry(Context ctx) {
        long delivery;
        try {
            delivery = Long.parseLong(ctx.pathParam("delivery"));
        } catch (NumberFormatException e) {
            throw ApiError.notFound("delivery", ctx.pathParam("delivery"));
        }
        ctx.status(202).json(endpoints.retry(Requests.actor(ctx), ctx.pathParam("id"), delivery));
    }
}
