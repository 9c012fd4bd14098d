package dev.karta.server.http;


import com.fasterxml.jackson.databind.ObjectMapper;
import dev.karta.api.ErrorBody;
import io.javalin.Javalin;
import io.javalin.config.RoutesConfig;
import io.javalin.http.Context;
import io.javalin.http.HttpResponseException;
import io.javalin.json.JavalinJackson;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Supplier;
import java.util.regex.Pattern;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.slf4j.MDC;

/**
 * The HTTP server: request ids, auth, metrics, the request log, the features' {@link Routes}, and
 * the one place errors become {@code {"error","message"}} answers.
 */
public final class HttpApi {
    private static final Logger LOG = LoggerFactory.getLogger(HttpApi.class);
    private static final Pattern CLIENT_REQUEST_ID = Pattern.compile("[A-Za-z0-9._:-]{1,64}");

    private final Javalin app;
    private final long maxJsonBody;
    private final String bind;
    private final int port;

    public HttpApi(String bind, int port, long maxJsonBody, ObjectMapper json, Authenticator auth,
                   HttpMetrics metrics, Map<String, Object> health, Supplier<String> notReady, List<Routes> features) {
        this.bind = bind;
        this.port = port;
        this.maxJsonBody = maxJsonBody;
        this.app = Javalin.create(cfg -> {
            cfg.startup.showJavalinBanner = false;
            cfg.startup.showOldJavalinVersionWarning = false;
            cfg.http.prefer405over404 = true;
            cfg.http.maxRequestSize = maxJsonBody;
            cfg.jsonMapper(new JavalinJackson(json, false));
            cfg.contextResolver.ip = ctx -> auth.clientAddress(ctx.req().getRemoteAddr(),
                    ctx.req().getHeaders("X-Forwarded-For"));
            // Jetty reuses header fields across requests of one connection, matched without case
            // by default: a key differing only in case would then pass as the cached one.
            cfg.jetty.modifyHttpConfiguration(http -> http.setHeaderCacheCaseSensitive(true));
            cfg.jetty.modifyServer(server -> server.setErrorHandler(new JsonErrorHandler(json)));
            cfg.requestLogger.http((ctx, millis) -> {
                metrics.record(ctx, millis);
                LOG.info("{} {} {} {}ms key={} request_id={}", ctx.method(), ctx.path(), ctx.statusCode(),
                        Math.round(millis), keyOf(ctx), Requests.requestId(ctx));
            });
            RoutesConfig r = cfg.routes;
            r.before(ctx -> {
                String incoming = ctx.header("X-Request-Id");
                String id = incoming != null && CLIENT_REQUEST_ID.matcher(incoming).matches()
                        ? incoming : dev.karta.server.Ids.next("req");
                ctx.attribute(Requests.REQUEST_ID, id);
                ctx.header("X-Request-Id", id);
                MDC.put("request_id", id);
            });
            r.beforeMatched(auth::check);
            r.after(ctx -> MDC.remove("request_id"));

            Map<String, Object> healthz = new LinkedHashMap<>(Map.of("status", "ok"));
            healthz.putAll(health);
            r.get("/healthz", ctx -> ctx.json(healthz));
            // Readiness, for load balancers: whether this server should be sent requests now (its
            // database answers, its start-up work is done). /healthz stays liveness (the process
            // answers), so an orchestrator does not restart a replica for an outage of the database.
            r.get("/readyz", ctx -> {
                String reason = notReady.get();
                if (reason == null) {
                    ctx.json(Map.of("status", "ready"));
                } else {
                    ctx.header("Retry-After", Long.toString(ApiError.DATABASE_RETRY.toSeconds()));
                    ctx.status(503).json(Map.of("status", "unavailable", "message", reason));
                }
            });
            r.get("/metrics", metrics::scrape);
            features.forEach(feature -> feature.register(cfg));

            r.exception(ApiError.class, (e, ctx) -> render(ctx, e));
            r.exception(HttpResponseException.class, (e, ctx) -> renderJavalin(ctx, e.getStatus(), e.getMessage()));
            r.exception(Exception.class, (e, ctx) -> {
                ApiError unreachable = ApiError.ifDatabaseUnreachable(e);
                if (unreachable != null) {
                    LOG.warn("{} {}: the database is unreachable ({})", ctx.method(), ctx.path(), e.toString());
                    render(ctx, unreachable);
                    return;
                }
                LOG.error("unhandled error on {} {} (request {})", ctx.method(), ctx.path(), Requests.requestId(ctx), e);
                render(ctx, 500, "internal", "internal server error; quote request id " + Requests.requestId(ctx));
            });
            r.error(404, "*", ctx -> {
                if (ctx.result() == null || ctx.result().isEmpty()) {
                    render(ctx, 404, "not_found", "no route for " + ctx.method() + " " + ctx.path());
                }
            });
            r.error(405, "*", ctx -> {
                if (ctx.result() == null || ctx.result().isEmpty()) {
                    render(ctx, 405, "method_not_allowed", ctx.method() + " is not allowed on " + ctx.path());
                }
            });
        });
    }

    private static String keyOf(Context ctx) {
        var principal = ctx.<Principal>attribute(Requests.PRINCIPAL);
        return principal == null ? "-" : principal.keyId();
    }

    private void renderJavalin(Context ctx, int status, String message) {
        ApiError.Kind kind = ApiError.Kind.ofStatus(status);
        String text = switch (status) {
            case 404 -> "no route for " + ctx.method() + " " + ctx.path();
            case 405 -> ctx.method() + " is not allowed on " + ctx.path();
            case 413 -> "request body too large: JSON bodies are limited to " + maxJsonBody + " bytes";
            default -> message == null || message.isBlank() ? kind.code() : message;
        };
        render(ctx, status, kind.code(), text);
    }

    /** Writes a feature's error, with its {@code Retry-After} when it has one. */
    private static void render(Context ctx, ApiError e) {
        if (e.retryAfter() != null) {
            ctx.header("Retry-After", Long.toString(e.retryAfterSeconds()));
        }
        render(ctx, e.kind().status(), e.code(), e.getMessage());
    }

    /** Writes the error body; the only place an error answer is shaped. */
    public static void render(Context ctx, int status, String code, String message) {
        if (status == 401) {
            ctx.header("WWW-Authenticate", "Bearer realm=\"karta\"");
        }
        ctx.status(status).json(new ErrorBody(code, message));
    }

    public HttpApi start() {
        app.start(bind, port);
        return this;
    }

    public int port() {
        return app.port();
    }

    public void stop() {
        app.stop();
    }
}
