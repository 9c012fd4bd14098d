package dev.karta.server.webhooks;

import dev.karta.api.WebhookDelivery;
import dev.karta.api.WebhookEndpoint;
import dev.karta.server.store.Dialect;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import org.jdbi.v3.core.Handle;

/** The SQL of endpoints, deliveries and attempts; events and new deliveries are written by {@code Events}. */
final class WebhookStore {
    /** Attempts shown with each delivery: the newest ones. */
    static final int ATTEMPTS_SHOWN = 20;

    /** An endpoint as stored: {@code secret} is sealed. */
    record Endpoint(String id, String orgId, String url, String description, List<String> events, String secret,
                    Long disabledAt, String disabledReason, long createdAt, long updatedAt) {
        boolean enabled() {
            return disabledAt == null;
        }

        WebhookEndpoint toWire() {
            return new WebhookEndpoint(id, url, description, events, enabled(), disabledReason,
                    disabledAt == null ? null : Instant.ofEpochMilli(disabledAt), Instant.ofEpochMilli(createdAt),
                    Instant.ofEpochMilli(updatedAt));
        }
    }

    /** A claimed delivery with what sending it needs; {@code lease} is the claim, checked when the outcome is written. */
    record Due(long id, String endpointId, String eventId, String url, String secret, String payload, int attempts,
               long dueSince, long lease) {
    }

    /** A due delivery that may be claimed, with how many deliveries of its org are in flight. */
    private record Candidate(long id, String endpoint, String org, int inFlight) {
    }

    void insert(Handle h, Endpoint e) {
        h.createUpdate("INSERT INTO webhook_endpoints (id, org_id, url, description, events, secret, created_at, "
                        + "updated_at) VALUES (:id, :org, :url, :description, :events, :secret, :at, :at)")
                .bind("id", e.id()).bind("org", e.orgId()).bind("url", e.url()).bind("description", e.description())
                .bind("events", String.join(" ", e.events())).bind("secret", e.secret()).bind("at", e.createdAt())
                .execute();
    }

    int count(Handle h, String orgId) {
        return h.createQuery("SELECT COUNT(*) FROM webhook_endpoints WHERE org_id = :org").bind("org", orgId)
                .mapTo(Integer.class).one();
    }

    List<Endpoint> list(Handle h, String orgId) {
        return h.createQuery("SELECT * FROM webhook_endpoints WHERE org_id = :org ORDER BY created_at, id")
                .bind("org", orgId).map((rs, ctx) -> endpoint(rs)).list();
    }

    Optional<Endpoint> find(Handle h, String orgId, String id) {
        return h.createQuery("SELECT * FROM webhook_endpoints WHERE org_id = :org AND id = :id")
                .bind("org", orgId).bind("id", id).map((rs, ctx) -> endpoint(rs)).findOne();
    }

    void update(Handle h, Endpoint e, long now) {
        h.createUpdate("UPDATE webhook_endpoints SET url = :url, description = :description, events = :events, "
                        + "secret = :secret, disabled_at = :disabledAt, disabled_reason = :reason, updated_at = :now "
                        + "WHERE id = :id")
                .bind("url", e.url()).bind("description", e.description()).bind("events", String.join(" ", e.events()))
                .bind("secret", e.secret()).bind("disabledAt", e.disabledAt()).bind("reason", e.disabledReason())
                .bind("now", now).bind("id", e.id())
                .execute();
    }

    /** Makes the endpoint's pending deliveries due now, with a new retry window and back-off: after it is enabled again. */
    void dueNow(Handle h, String endpointId, long now) {
        h.createUpdate("UPDATE webhook_event_deliveries SET next_attempt_at = :now, due_since = :now, attempts = 0 "
                        + "WHERE endpoint_id = :endpoint AND status = 'pending'")
                .bind("now", now).bind("endpoint", endpointId).execute();
    }

    void delete(Handle h, String id) {
        h.execute("DELETE FROM webhook_endpoints WHERE id = ?", id);
        // Events no endpoint will send any more.
        h.execute("DELETE FROM webhook_events WHERE NOT EXISTS "
                + "(SELECT 1 FROM webhook_event_deliveries d WHERE d.event_id = webhook_events.id)");
    }

    List<WebhookDelivery> deliveries(Handle h, String endpointId, int limit) {
        List<Map.Entry<Long, WebhookDelivery>> rows = h.createQuery("SELECT d.*, e.type, p.name AS project_name "
                        + "FROM webhook_event_deliveries d JOIN webhook_events e ON e.id = d.event_id "
                        + "LEFT JOIN projects p ON p.id = e.project_id "
                        + "WHERE d.endpoint_id = :endpoint ORDER BY d.id DESC LIMIT :limit")
                .bind("endpoint", endpointId).bind("limit", limit)
                .map((rs, ctx) -> Map.entry(rs.getLong("id"), delivery(rs, List.of())))
                .list();
        List<WebhookDelivery> out = new ArrayList<>();
        for (Map.Entry<Long, WebhookDelivery> row : rows) {
            WebhookDelivery d = row.getValue();
            out.add(new WebhookDelivery(d.id(), d.eventId(), d.eventType(), d.project(), d.status(), d.attempts(),
                    d.nextAttemptAt(), d.lastStatusCode(), d.lastError(), d.createdAt(), d.finishedAt(),
                    attempts(h, row.getKey())));
        }
        return out;
    }

    Optional<WebhookDelivery> delivery(Handle h, String endpointId, long id) {
        return h.createQuery("SELECT d.*, e.type, p.name AS project_name "
                        + "FROM webhook_event_deliveries d JOIN webhook_events e ON e.id = d.event_id "
                        + "LEFT JOIN projects p ON p.id = e.project_id WHERE d.endpoint_id = :endpoint AND d.id = :id")
                .bind("endpoint", endpointId).bind("id", id)
                .map((rs, ctx) -> delivery(rs, List.of())).findOne()
                .map(d -> new WebhookDelivery(d.id(), d.eventId(), d.eventType(), d.project(), d.status(), d.attempts(),
                        d.nextAttemptAt(), d.lastStatusCode(), d.lastError(), d.createdAt(), d.finishedAt(),
                        attempts(h, id)));
    }

    /** The delivery of event {@code eventId} to the endpoint, if there is one. */
    Optional<WebhookDelivery> deliveryOfEvent(Handle h, String endpointId, String eventId) {
        return h.createQuery("SELECT id FROM webhook_event_deliveries WHERE endpoint_id = :endpoint AND event_id = :event")
                .bind("endpoint", endpointId).bind("event", eventId).mapTo(Long.class).findOne()
                .flatMap(id -> delivery(h, endpointId, id));
    }

    /**
     * Makes a delivery pending and due now, with a new retry window and back-off from its first step
     * ({@code attempts} counts the current window's attempts; the attempt log keeps all); returns
     * whether it exists.
     */
    boolean retry(Handle h, String endpointId, long id, long now) {
        return h.createUpdate("UPDATE webhook_event_deliveries SET status = 'pending', next_attempt_at = :now, "
                        + "due_since = :now, attempts = 0, finished_at = NULL WHERE endpoint_id = :endpoint AND id = :id")
                .bind("now", now).bind("endpoint", endpointId).bind("id", id).execute() == 1;
    }

    private List<WebhookDelivery.Attempt> attempts(Handle h, long deliveryId) {
        List<WebhookDelivery.Attempt> newest = h.createQuery("SELECT * FROM webhook_event_attempts WHERE delivery_id = :d "
                        + "ORDER BY id DESC LIMIT :n")
                .bind("d", deliveryId).bind("n", ATTEMPTS_SHOWN)
                .map((rs, ctx) -> new WebhookDelivery.Attempt(Instant.ofEpochMilli(rs.getLong("attempted_at")),
                        integer(rs, "status_code"), rs.getString("error"), rs.getLong("duration_ms")))
                .list();
        List<WebhookDelivery.Attempt> oldestFirst = new ArrayList<>(newest);
        java.util.Collections.reverse(oldestFirst);
        return oldestFirst;
    }

    /**
     * Claims up to {@code max} due deliveries for this server until {@code lease}: pending, due,
     * not claimed by a live lease, of an enabled endpoint, and each the oldest pending delivery of
     * its endpoint and lane (so a lane's deliveries go out one at a time, in order), earliest due
     * first. At most one per endpoint, and {@code perOrg} per org (counting those in flight on
     * any server), are claimed at a time, so neither a slow endpoint nor an org with many of them
     * can hold every sender: other orgs' events keep going out. On PostgreSQL rows another server
     * is claiming are skipped ({@code SKIP LOCKED}), never waited for.
     */
    List<Due> claim(Handle h, Dialect dialect, long now, long lease, int max, int perOrg) {
        String sql = "SELECT d.id, d.endpoint_id, w.org_id, "
                + "(SELECT COUNT(*) FROM webhook_event_deliveries b JOIN webhook_endpoints bw ON bw.id = b.endpoint_id "
                + "WHERE bw.org_id = w.org_id AND b.status = 'pending' AND b.lease_until >= :now) AS in_flight "
                + "FROM webhook_event_deliveries d "
                + "JOIN webhook_endpoints w ON w.id = d.endpoint_id "
                + "WHERE d.status = 'pending' AND d.next_attempt_at <= :now "
                + "AND (d.lease_until IS NULL OR d.lease_until < :now) AND w.disabled_at IS NULL "
                + "AND NOT EXISTS (SELECT 1 FROM webhook_event_deliveries p WHERE p.endpoint_id = d.endpoint_id "
                + "AND p.lane = d.lane AND p.status = 'pending' AND p.id < d.id) "
                + "AND NOT EXISTS (SELECT 1 FROM webhook_event_deliveries b WHERE b.endpoint_id = d.endpoint_id "
                + "AND b.status = 'pending' AND b.lease_until >= :now) "
                + "ORDER BY d.next_attempt_at, d.id LIMIT :candidates"
                + (dialect == Dialect.POSTGRES ? " FOR UPDATE OF d SKIP LOCKED" : "");
        List<Candidate> candidates = h.createQuery(sql).bind("now", now).bind("candidates", max * 8)
                .map((rs, ctx) -> new Candidate(rs.getLong("id"), rs.getString("endpoint_id"), rs.getString("org_id"),
                        rs.getInt("in_flight")))
                .list();
        Set<String> endpoints = new HashSet<>();
        Map<String, Integer> heldByOrg = new HashMap<>();
        List<Long> ids = new ArrayList<>();
        for (Candidate c : candidates) {
            int held = heldByOrg.getOrDefault(c.org(), c.inFlight());
            if (ids.size() < max && held < perOrg && endpoints.add(c.endpoint())) {
                ids.add(c.id());
                heldByOrg.put(c.org(), held + 1);
            }
        }
        List<Due> due = new ArrayList<>();
        for (long id : ids) {
            h.createUpdate("UPDATE webhook_event_deliveries SET lease_until = :lease WHERE id = :id")
                    .bind("lease", lease).bind("id", id).execute();
            due.add(h.createQuery("SELECT d.id, d.endpoint_id, d.event_id, d.attempts, d.due_since, w.url, w.secret, "
                            + "e.payload FROM webhook_event_deliveries d JOIN webhook_endpoints w ON w.id = d.endpoint_id "
                            + "JOIN webhook_events e ON e.id = d.event_id WHERE d.id = :id")
                    .bind("id", id)
                    .map((rs, ctx) -> new Due(rs.getLong("id"), rs.getString("endpoint_id"), rs.getString("event_id"),
                            rs.getString("url"), rs.getString("secret"), rs.getString("payload"), rs.getInt("attempts"),
                            rs.getLong("due_since"), lease))
                    .one());
        }
        return due;
    }

    /**
     * Writes an attempt's outcome if this server still holds the claim: the delivery becomes
     * {@code status} ({@code pending} with {@code next} as its next attempt, or final), and the
     * attempt is logged. Returns false, writing nothing, when the claim was lost (its lease ran out
     * and another server took the delivery, or the endpoint was deleted).
     */
    boolean finishAttempt(Handle h, Due due, String status, Long next, Integer code, String error, long at,
                          long durationMs) {
        int changed = h.createUpdate("UPDATE webhook_event_deliveries SET status = :status, attempts = attempts + 1, "
                        + "next_attempt_at = COALESCE(:next, next_attempt_at), lease_until = NULL, last_status = :code, "
                        + "last_error = :error, finished_at = :finished "
                        + "WHERE id = :id AND status = 'pending' AND lease_until = :lease")
                .bind("status", status).bind("next", next).bind("code", code).bind("error", error)
                .bind("finished", "pending".equals(status) ? null : (Long) at).bind("id", due.id())
                .bind("lease", due.lease())
                .execute();
        if (changed == 0) {
            return false;
        }
        h.createUpdate("INSERT INTO webhook_event_attempts (delivery_id, attempted_at, status_code, error, duration_ms) "
                        + "VALUES (:d, :at, :code, :error, :ms)")
                .bind("d", due.id()).bind("at", at).bind("code", code).bind("error", error).bind("ms", durationMs)
                .execute();
        return true;
    }

    /**
     * Deletes the history finished before {@code cutoff}: delivered and given-up deliveries (with
     * their attempts), and events left with no delivery. Returns how many deliveries went.
     */
    int sweep(Handle h, long cutoff) {
        int deleted = h.createUpdate("DELETE FROM webhook_event_deliveries WHERE status <> 'pending' "
                + "AND finished_at < :cutoff").bind("cutoff", cutoff).execute();
        h.createUpdate("DELETE FROM webhook_events WHERE created_at < :cutoff AND NOT EXISTS "
                + "(SELECT 1 FROM webhook_event_deliveries d WHERE d.event_id = webhook_events.id)")
                .bind("cutoff", cutoff).execute();
        return deleted;
    }

    /** Disables an endpoint the server gave up on, saying why; an endpoint already disabled keeps its reason. */
    void disable(Handle h, String endpointId, String reason, long now) {
        h.createUpdate("UPDATE webhook_endpoints SET disabled_at = :now, disabled_reason = :reason, updated_at = :now "
                        + "WHERE id = :id AND disabled_at IS NULL")
                .bind("now", now).bind("reason", reason).bind("id", endpointId).execute();
    }

    private static Endpoint endpoint(ResultSet rs) throws SQLException {
        long disabledAt = rs.getLong("disabled_at");
        Long disabled = rs.wasNull() ? null : disabledAt;
        return new Endpoint(rs.getString("id"), rs.getString("org_id"), rs.getString("url"),
                rs.getString("description"), Arrays.asList(rs.getString("events").split(" ")), rs.getString("secret"),
                disabled, rs.getString("disabled_reason"), rs.getLong("created_at"), rs.getLong("updated_at"));
    }

    private static WebhookDelivery delivery(ResultSet rs, List<WebhookDelivery.Attempt> attempts) throws SQLException {
        String status = rs.getString("status");
        Long finished = longOrNull(rs, "finished_at");
        return new WebhookDelivery(rs.getLong("id"), rs.getString("event_id"), rs.getString("type"),
                rs.getString("project_name"), status, rs.getInt("attempts"),
                "pending".equals(status) ? Instant.ofEpochMilli(rs.getLong("next_attempt_at")) : null,
                integer(rs, "last_status"), rs.getString("last_error"), Instant.ofEpochMilli(rs.getLong("created_at")),
                finished == null ? null : Instant.ofEpochMilli(finished), attempts);
    }

    private static Integer integer(ResultSet rs, String column) throws SQLException {
        int value = rs.getInt(column);
        return rs.wasNull() ? null : value;
    }

    private static Long longOrNull(ResultSet rs, String column) throws SQLException {
        long value = rs.getLong(column);
        return rs.wasNull() ? null : value;
    }
}
