package dev.karta.server.http;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.karta.server.store.Database;
import io.javalin.http.Context;
import java.time.Duration;
import java.util.Optional;
import java.util.function.Supplier;

/**
 * {@code Idempotency-Key} for mutating calls: the first request with a key runs and its answer
 * is stored; a retry with the same key and the same request gets that answer again and does
 * nothing; the same key with a different request is a 422, and one still running a 409. Keys
 * are per org (another org's identical key is another key) and remembered for
 * {@value #TTL_HOURS} hours.
 */
public final class Idempotency {
    private static final int TTL_HOURS = 24;
    private static final int MAX_KEY = 255;

    /**
     * An answer: status and JSON body (null for none, as for 204), and what a retry gets instead,
     * which is what is stored: the same body unless it holds something never to be kept, such
     * as a new key's secret.
     */
    public record Answer(int status, Object body, Object replayBody) {
        public Answer(int status, Object body) {
            this(status, body, body);
        }
    }

    private record Stored(String fingerprint, Integer status, String body) {
    }

    private final Database db;
    private final ObjectMapper json;

    public Idempotency(Database db, ObjectMapper json) {
        this.db = db;
        this.json = json;
    }

    /**
     * Answers the request with {@code work}'s result, or with the stored answer of an earlier
     * request that carried the same {@code Idempotency-Key}. {@code fingerprint} identifies the
     * request's meaning (route, target, body digest).
     */
    public void respond(Context ctx, String fingerprint, Supplier<Answer> work) {
        String key = ctx.header("Idempotency-Key");
        if (key == null || key.isBlank()) {
            send(ctx, work.get());
            return;
        }
        if (key.length() > MAX_KEY) {
            throw ApiError.badRequest("Idempotency-Key is longer than " + MAX_KEY + " characters");
        }
        String org = Requests.principal(ctx).orgId();
        long now = System.currentTimeMillis();
        boolean claimed;
        try {
            db.inTransaction(h -> {
                h.execute("DELETE FROM idempotency_keys WHERE created_at < ?", now - Duration.ofHours(TTL_HOURS).toMillis());
                return h.execute("INSERT INTO idempotency_keys (org_id, idem_key, fingerprint, created_at) VALUES (?, ?, ?, ?)",
                        org, key, fingerprint, now);
            });
            claimed = true;
        } catch (RuntimeException e) {
            if (!Database.isUniqueViolation(e)) {
                throw e;
            }
            claimed = false;
        }
        if (!claimed) {
            Stored stored = find(org, key).orElseThrow(() -> ApiError.conflict("Idempotency-Key '" + key
                    + "' is being reused right now; retry shortly"));
            if (!stored.fingerprint().equals(fingerprint)) {
                throw ApiError.unprocessable("idempotency_key_reused", "Idempotency-Key '" + key
                        + "' was already used for a different request");
            }
            if (stored.status() == null) {
                throw ApiError.conflict("a request with Idempotency-Key '" + key + "' is still in progress");
            }
            ctx.header("Idempotent-Replayed", "true");
            ctx.status(stored.status());
            if (stored.body() != null) {
                ctx.contentType("application/json").result(stored.body());
            }
            return;
        }
        Answer answer;
        try {
            answer = work.get();
        } catch (RuntimeException e) {
            db.execute("DELETE FROM idempotency_keys WHERE org_id = ? AND idem_key = ?", org, key);
            throw e;
        }
        String replay = answer.replayBody() == null ? null : write(answer.replayBody());
        db.execute("UPDATE idempotency_keys SET status = ?, body = ? WHERE org_id = ? AND idem_key = ?",
                answer.status(), replay, org, key);
        send(ctx, answer);
    }

    private void send(Context ctx, Answer answer) {
        ctx.status(answer.status());
        if (answer.body() != null) {
            ctx.contentType("application/json").result(write(answer.body()));
        }
    }

    private Optional<Stored> find(String org, String key) {
        return db.withHandle(h -> h.createQuery("SELECT fingerprint, status, body FROM idempotency_keys "
                        + "WHERE org_id = :org AND idem_key = :key")
                .bind("org", org).bind("key", key)
                .map((rs, ctx) -> {
                    int status = rs.getInt("status");
                    return new Stored(rs.getString("fingerprint"), rs.wasNull() ? null : status, rs.getString("body"));
                })
                .findOne());
    }

    private String write(Object body) {
        try {
            return json.writeValueAsString(body);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
    }
}
