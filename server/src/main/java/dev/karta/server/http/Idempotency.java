package dev.karta.server.http;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.karta.server.store.Database;
import dev.karta.server.store.SecretBox;
import dev.karta.server.store.Threads;
import io.javalin.http.Context;
import java.time.Duration;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * {@code Idempotency-Key} for mutating calls: the first request with a key runs and its answer
 * is stored; a retry with the same key and the same request gets that answer again and does
 * nothing; the same key with a different request is a 422, and one still running a 409. Keys
 * are per org (another org's identical key is another key) and remembered for
 * {@value #TTL_HOURS} hours. Stored answers are sealed with the server's {@link SecretBox}: the
 * table never holds a secret an answer carried (a bound repository's webhook secret) in plain text.
 *
 * <p>A running request holds its key under a lease: its {@code created_at} is renewed every
 * {@link #LEASE}/3 while the work runs, by whichever server runs it. A reservation not renewed for
 * a whole {@link #LEASE} belongs to a server that died (or lost the database) between reserving
 * and answering: the next request with that key takes it over, atomically (the update matches the
 * stamp it read, so of two replicas one wins), and runs. The stamp is also the holder's token: a
 * holder whose reservation was taken over stores nothing. Replicas' clocks must agree within
 * two thirds of the lease.
 */
public final class Idempotency implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(Idempotency.class);
    private static final int TTL_HOURS = 24;
    private static final int MAX_KEY = 255;
    /** A reservation not renewed for this long is taken as abandoned. */
    static final Duration LEASE = Duration.ofSeconds(30);

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

    private record Stored(String fingerprint, Integer status, String body, long createdAt) {
    }

    /** A key this server holds while its request runs; {@code stamp} is the row's {@code created_at}. */
    private static final class Reservation {
        private final String org;
        private final String key;
        private long stamp;
        private boolean lost;

        Reservation(String org, String key, long stamp) {
            this.org = org;
            this.key = key;
            this.stamp = stamp;
        }
    }

    private final Database db;
    private final ObjectMapper json;
    private final SecretBox box;
    private final Set<Reservation> held = ConcurrentHashMap.newKeySet();
    private final ScheduledExecutorService renewer = Executors.newSingleThreadScheduledExecutor(
            Threads.daemon("idempotency-lease"));

    public Idempotency(Database db, ObjectMapper json, SecretBox box) {
        this.db = db;
        this.json = json;
        this.box = box;
        long every = LEASE.toMillis() / 3;
        renewer.scheduleWithFixedDelay(this::renewAll, every, every, TimeUnit.MILLISECONDS);
    }

    /**
     * The request's {@code Idempotency-Key}, or null without one: what a deploy records of the
     * request that created it. Inside {@link #respond}'s work it has been checked.
     */
    public static String key(Context ctx) {
        String key = ctx.header("Idempotency-Key");
        return key == null || key.isBlank() ? null : key;
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
        Optional<Reservation> reserved = reserve(org, key, fingerprint);
        if (reserved.isEmpty()) {
            replay(ctx, org, key, fingerprint);
            return;
        }
        Reservation reservation = reserved.get();
        held.add(reservation);
        Answer answer;
        try {
            answer = work.get();
        } catch (RuntimeException e) {
            release(reservation);
            throw e;
        }
        String replay = answer.replayBody() == null ? null : box.seal(write(answer.replayBody()));
        synchronized (reservation) {
            held.remove(reservation);
            int stored = reservation.lost ? 0 : db.execute("UPDATE idempotency_keys SET status = ?, body = ? "
                    + "WHERE org_id = ? AND idem_key = ? AND status IS NULL AND created_at = ?",
                    answer.status(), replay, org, key, reservation.stamp);
            if (stored == 0) {
                LOG.warn("Idempotency-Key '{}' was taken over while its request ran here; its answer is not stored", key);
            }
        }
        send(ctx, answer);
    }

    /** Reserves the key, or takes over an abandoned reservation; empty when the key is held or answered. */
    private Optional<Reservation> reserve(String org, String key, String fingerprint) {
        long now = System.currentTimeMillis();
        try {
            db.inTransaction(h -> {
                h.execute("DELETE FROM idempotency_keys WHERE created_at < ?", now - Duration.ofHours(TTL_HOURS).toMillis());
                return h.execute("INSERT INTO idempotency_keys (org_id, idem_key, fingerprint, created_at) VALUES (?, ?, ?, ?)",
                        org, key, fingerprint, now);
            });
            return Optional.of(new Reservation(org, key, now));
        } catch (RuntimeException e) {
            if (!Database.isUniqueViolation(e)) {
                throw e;
            }
        }
        Optional<Stored> stored = find(org, key);
        if (stored.isPresent() && stored.get().status() == null && stored.get().fingerprint().equals(fingerprint)
                && stored.get().createdAt() < now - LEASE.toMillis()) {
            long old = stored.get().createdAt();
            long stamp = Math.max(now, old + 1);
            if (db.execute("UPDATE idempotency_keys SET created_at = ? WHERE org_id = ? AND idem_key = ? "
                    + "AND status IS NULL AND created_at = ?", stamp, org, key, old) == 1) {
                LOG.info("Idempotency-Key '{}': its holder stopped renewing it {} ms ago; running the request again",
                        key, now - old);
                return Optional.of(new Reservation(org, key, stamp));
            }
        }
        return Optional.empty();
    }

    private void replay(Context ctx, String org, String key, String fingerprint) {
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
            // Answers stored before they were sealed are plain JSON.
            String body = SecretBox.isSealed(stored.body()) ? box.open(stored.body()) : stored.body();
            ctx.contentType("application/json").result(body);
        }
    }

    /** Gives the key back after a failed request, unless another server took it over meanwhile. */
    private void release(Reservation reservation) {
        synchronized (reservation) {
            held.remove(reservation);
            if (!reservation.lost) {
                db.execute("DELETE FROM idempotency_keys WHERE org_id = ? AND idem_key = ? AND status IS NULL "
                        + "AND created_at = ?", reservation.org, reservation.key, reservation.stamp);
            }
        }
    }

    private void renewAll() {
        for (Reservation reservation : held) {
            try {
                renew(reservation);
            } catch (RuntimeException e) {
                LOG.warn("renewing Idempotency-Key '{}' failed; will retry: {}", reservation.key, e.toString());
            }
        }
    }

    private void renew(Reservation reservation) {
        synchronized (reservation) {
            if (reservation.lost || !held.contains(reservation)) {
                return;
            }
            long stamp = Math.max(System.currentTimeMillis(), reservation.stamp + 1);
            if (db.execute("UPDATE idempotency_keys SET created_at = ? WHERE org_id = ? AND idem_key = ? "
                    + "AND status IS NULL AND created_at = ?", stamp, reservation.org, reservation.key,
                    reservation.stamp) == 1) {
                reservation.stamp = stamp;
            } else {
                reservation.lost = true;
                held.remove(reservation);
                LOG.warn("Idempotency-Key '{}' was taken over by another request while it ran here", reservation.key);
            }
        }
    }

    private void send(Context ctx, Answer answer) {
        ctx.status(answer.status());
        if (answer.body() != null) {
            ctx.contentType("application/json").result(write(answer.body()));
        }
    }

    private Optional<Stored> find(String org, String key) {
        return db.withHandle(h -> h.createQuery("SELECT fingerprint, status, body, created_at FROM idempotency_keys "
                        + "WHERE org_id = :org AND idem_key = :key")
                .bind("org", org).bind("key", key)
                .map((rs, ctx) -> {
                    String fingerprint = rs.getString("fingerprint");
                    int status = rs.getInt("status");
                    Integer maybeStatus = rs.wasNull() ? null : status;
                    return new Stored(fingerprint, maybeStatus, rs.getString("body"), rs.getLong("created_at"));
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

    /** Stops renewing: requests still running here lose their keys to a retry after the lease. */
    @Override
    public void close() {
        renewer.shutdownNow();
    }
}
