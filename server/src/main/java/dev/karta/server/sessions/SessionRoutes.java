package dev.karta.server.sessions;

import static dev.karta.server.http.Scope.READ;
import static dev.karta.server.http.Scope.WRITE;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.karta.api.ErrorBody;
import dev.karta.api.MessageDelta;
import dev.karta.api.MessageProgress;
import dev.karta.api.Printable;
import dev.karta.api.SendMessage;
import dev.karta.api.Session;
import dev.karta.api.SessionList;
import dev.karta.server.http.ApiError;
import dev.karta.server.http.Idempotency;
import dev.karta.server.http.Requests;
import dev.karta.server.http.Routes;
import dev.karta.server.http.sse.Sse;
import dev.karta.server.keys.ApiKeys;
import dev.karta.server.previews.Previews;
import dev.karta.server.store.Digests;
import io.javalin.config.JavalinConfig;
import io.javalin.config.RoutesConfig;
import io.javalin.http.Context;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Handlers of {@code /v1/projects/{p}/sessions…} (docs/sessions.md). A message answers its reply as JSON,
 * or, with {@code "stream":true} or {@code Accept: text/event-stream}, as an SSE stream of
 * {@code message.delta} events (and {@code message.progress} notes, such as a harness retrying its
 * model API) then {@code message.completed} (or {@code error}). Errors found
 * before the turn starts (validation, 404, 409, 503) are plain JSON answers either way.
 */
public final class SessionRoutes implements Routes {
    private static final Logger LOG = LoggerFactory.getLogger(SessionRoutes.class);
    static final int MAX_METADATA_KEYS = 50;
    static final int MAX_METADATA_KEY_CHARS = 64;
    static final int MAX_METADATA_VALUE_CHARS = 1024;

    /** How often a streamed turn re-checks its key against the database (revocations elsewhere). */
    private static final long KEY_CHECK_MS = 5000;
    private static final byte[] WAITING = ": waiting\n\n".getBytes(StandardCharsets.UTF_8);

    private final Sessions sessions;
    private final Idempotency idempotency;
    private final ObjectMapper json;
    private final ApiKeys keys;
    private final Previews previews;

    public SessionRoutes(Sessions sessions, Idempotency idempotency, ObjectMapper json, ApiKeys keys,
                         Previews previews) {
        this.previews = previews;
        this.sessions = sessions;
        this.idempotency = idempotency;
        this.json = json;
        this.keys = keys;
    }

    @Override
    public void register(JavalinConfig config) {
        RoutesConfig r = config.routes;
        r.post("/v1/projects/{project}/sessions", this::create, WRITE);
        r.get("/v1/projects/{project}/sessions", ctx -> list(ctx, null), READ);
        r.get("/v1/projects/{project}/sessions/{id}", this::show, READ);
        r.delete("/v1/projects/{project}/sessions/{id}", this::end, WRITE);
        r.post("/v1/projects/{project}/sessions/{id}/messages", this::message, WRITE);
        // A preview's URL takes sessions like the project's: they run the preview's current release.
        String preview = "/v1/projects/{project}/previews/{preview}/sessions";
        r.post(preview, this::createOnPreview, WRITE);
        r.get(preview, ctx -> {
            // 404 for a preview the project never had, 400 for a name that is not pr-N.
            previews.get(Requests.principal(ctx).orgId(), ctx.pathParam("project"), ctx.pathParam("preview"));
            list(ctx, ctx.pathParam("preview"));
        }, READ);
        r.get(preview + "/{id}", ctx -> {
            onPreview(ctx);
            show(ctx);
        }, READ);
        r.delete(preview + "/{id}", ctx -> {
            onPreview(ctx);
            end(ctx);
        }, WRITE);
        r.post(preview + "/{id}/messages", ctx -> {
            onPreview(ctx);
            message(ctx);
        }, WRITE);
    }

    /** 404 unless the session of the path runs a release of the path's preview. */
    private void onPreview(Context ctx) {
        SessionRecord session = sessions.get(Requests.principal(ctx).orgId(), ctx.pathParam("project"),
                ctx.pathParam("id"));
        if (!ctx.pathParam("preview").equals(session.preview())) {
            throw ApiError.notFound("session", ctx.pathParam("id"));
        }
    }

    public void createOnPreview(Context ctx) {
        Map<String, String> metadata = metadata(ctx);
        String org = Requests.principal(ctx).orgId();
        String project = ctx.pathParam("project");
        String name = ctx.pathParam("preview");
        idempotency.respond(ctx, "session.create:" + project + ":" + name + ":"
                + Digests.sha256Hex(ctx.bodyAsBytes()), () -> new Idempotency.Answer(201, wire(sessions.createOnPreview(
                org, project, h -> previews.serving(h, org, project, name), metadata))));
    }

    public void create(Context ctx) {
        Map<String, String> metadata = metadata(ctx);
        String org = Requests.principal(ctx).orgId();
        String project = ctx.pathParam("project");
        idempotency.respond(ctx, "session.create:" + project + ":" + Digests.sha256Hex(ctx.bodyAsBytes()), () ->
                new Idempotency.Answer(201, wire(sessions.create(org, project, metadata))));
    }

    public void show(Context ctx) {
        ctx.json(wire(sessions.get(Requests.principal(ctx).orgId(), ctx.pathParam("project"), ctx.pathParam("id"))));
    }

    private Session wire(SessionRecord session) {
        return session.toWire(sessions.workspaceBytes(session.id()));
    }

    /** Lists the project's sessions, or only those of preview {@code preview} when it is not null. */
    private void list(Context ctx, String preview) {
        String raw = ctx.queryParam("status");
        SessionStatus status = null;
        if (raw != null && !raw.isBlank()) {
            status = SessionStatus.parse(raw.trim());
            if (status == null) {
                throw ApiError.badRequest("invalid status '" + raw + "': use idle, running or ended");
            }
        }
        int limit = Requests.limit(ctx, 50, 500);
        ctx.json(new SessionList(sessions.list(Requests.principal(ctx).orgId(), ctx.pathParam("project"), preview,
                status, limit).stream().map(this::wire).toList()));
    }

    public void end(Context ctx) {
        sessions.end(Requests.principal(ctx).orgId(), ctx.pathParam("project"), ctx.pathParam("id"));
        ctx.status(204);
    }

    public void message(Context ctx) {
        SendMessage body = body(ctx, SendMessage.class);
        String org = Requests.principal(ctx).orgId();
        String project = ctx.pathParam("project");
        String id = ctx.pathParam("id");
        Turns turns = sessions.turns();
        turns.validate(body.text());
        String accept = ctx.header("Accept");
        boolean stream = Boolean.TRUE.equals(body.stream())
                || (accept != null && accept.toLowerCase(Locale.ROOT).contains("text/event-stream"));
        if (!stream) {
            idempotency.respond(ctx, "session.message:" + project + ":" + id + ":"
                            + Digests.sha256Hex(body.text()),
                    () -> new Idempotency.Answer(200, turns.send(org, project, id, body.text(), Turns.QUIET)));
            return;
        }
        EventStream events = new EventStream(ctx, Requests.principal(ctx).keyId());
        try {
            events.send("message.completed", turns.send(org, project, id, body.text(), events));
        } catch (ApiError e) {
            if (!events.started) {
                throw e;
            }
            events.send("error", new ErrorBody(e.code(), e.getMessage()));
        } catch (RuntimeException e) {
            if (!events.started) {
                throw e;
            }
            LOG.error("streamed turn failed on {} (request {})", ctx.path(), Requests.requestId(ctx), e);
            events.send("error", new ErrorBody("internal", "internal server error; quote request id "
                    + Requests.requestId(ctx)));
        }
    }

    /**
     * The optional body of a create: nothing, {@code {}}, or {@code {"metadata":{…}}} with at most
     * {@value #MAX_METADATA_KEYS} string entries.
     */
    private Map<String, String> metadata(Context ctx) {
        if (ctx.bodyAsBytes().length == 0) {
            return Map.of();
        }
        JsonNode body = body(ctx, JsonNode.class);
        if (!body.isObject()) {
            throw ApiError.badRequest("request body must be a JSON object");
        }
        JsonNode metadata = body.path("metadata");
        if (metadata.isMissingNode() || metadata.isNull()) {
            return Map.of();
        }
        if (!metadata.isObject()) {
            throw ApiError.badRequest("metadata must be an object of string values");
        }
        if (metadata.size() > MAX_METADATA_KEYS) {
            throw ApiError.badRequest("metadata has " + metadata.size() + " keys; at most " + MAX_METADATA_KEYS
                    + " are allowed");
        }
        Map<String, String> out = new LinkedHashMap<>();
        for (Map.Entry<String, JsonNode> entry : metadata.properties()) {
            String key = entry.getKey();
            if (key.isEmpty() || key.length() > MAX_METADATA_KEY_CHARS) {
                throw ApiError.badRequest("metadata keys must be 1 to " + MAX_METADATA_KEY_CHARS + " characters long");
            }
            if (Printable.hasControlCharacters(key)) {
                // Keys are names; values may be text of several lines, which clients show escaped.
                throw ApiError.badRequest("metadata keys must not contain control characters (line breaks, escapes)");
            }
            if (!entry.getValue().isTextual()) {
                throw ApiError.badRequest("metadata value of '" + key + "' must be a string, not "
                        + entry.getValue().getNodeType().name().toLowerCase(Locale.ROOT));
            }
            if (entry.getValue().asText().length() > MAX_METADATA_VALUE_CHARS) {
                throw ApiError.badRequest("metadata value of '" + key + "' is longer than " + MAX_METADATA_VALUE_CHARS
                        + " characters");
            }
            out.put(key, entry.getValue().asText());
        }
        return out;
    }

    private <T> T body(Context ctx, Class<T> type) {
        return Requests.json(ctx, json, type);
    }

    /**
     * An SSE answer written straight to the response: committed (status 200) only once the turn
     * has started. A client that goes away stops the writing, not the turn: the session's
     * harness conversation stays consistent. Nor does a key revoked meanwhile (here at once,
     * on another server within {@value #KEY_CHECK_MS} ms): the stream gets {@code event: error}
     * ({@code unauthorized}) and nothing more.
     */
    private final class EventStream implements Turns.Listener {
        private final Context ctx;
        private final String keyId;
        private OutputStream out;
        private String messageId;
        private boolean started;
        private boolean gone;
        private long keyCheckedAt = System.currentTimeMillis();

        EventStream(Context ctx, String keyId) {
            this.ctx = ctx;
            this.keyId = keyId;
        }

        @Override
        public void started(String id) {
            messageId = id;
            started = true;
            ctx.status(200);
            Sse.startResponse(ctx.res());
            try {
                out = ctx.res().getOutputStream();
                out.flush();
            } catch (IOException e) {
                clientGone(e);
            }
        }

        @Override
        public void delta(String text) {
            send("message.delta", new MessageDelta(messageId, text));
        }

        @Override
        public void progress(String text) {
            send("message.progress", new MessageProgress(messageId, text));
        }

        @Override
        public void waiting() {
            write(WAITING);
        }

        void send(String event, Object data) {
            try {
                write(Sse.event(null, event, json.writeValueAsString(data)));
            } catch (JsonProcessingException e) {
                throw new IllegalStateException(e);
            }
        }

        private void write(byte[] frame) {
            if (gone || out == null) {
                return;
            }
            if (!keyStillValid()) {
                byte[] error = Sse.event(null, "error", "{\"error\":\"unauthorized\",\"message\":\"API key " + keyId
                        + " was revoked, has expired or was deleted: this stream is closed\"}");
                try {
                    out.write(error);
                    out.flush();
                } catch (IOException e) {
                    LOG.debug("event stream of turn {} gone before its error: {}", messageId, e.toString());
                }
                gone = true;
                return;
            }
            try {
                out.write(frame);
                out.flush();
            } catch (IOException e) {
                clientGone(e);
            }
        }

        private boolean keyStillValid() {
            if (keys.revokedHere(keyId)) {
                return false;
            }
            long now = System.currentTimeMillis();
            if (now - keyCheckedAt < KEY_CHECK_MS) {
                return true;
            }
            keyCheckedAt = now;
            return keys.unusable(Set.of(keyId)).isEmpty();
        }

        private void clientGone(IOException e) {
            gone = true;
            LOG.debug("event stream of turn {} closed by the client: {}", messageId, e.toString());
        }
    }

}
