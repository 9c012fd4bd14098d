package dev.karta.server.events;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.karta.server.Ids;
import java.sql.SQLException;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.jdbi.v3.core.Handle;

/**
 * Records events for the webhook endpoints of an org. An event is the JSON object
 * {@code {"id","type","created_at","org","project","data"}}; {@link #record} writes it to the
 * outbox ({@code webhook_events}) with one pending delivery per enabled endpoint subscribed to its
 * type, inside the caller's transaction: a change that rolls back takes its event with it, and a
 * change that commits has its event stored before anyone is told. When no endpoint subscribes,
 * nothing is written. Event data never holds secrets (config values, key secrets, tokens).
 */
public final class Events {
    public static final String DEPLOY_QUEUED = "deploy.queued";
    public static final String DEPLOY_SUCCEEDED = "deploy.succeeded";
    public static final String DEPLOY_FAILED = "deploy.failed";
    public static final String RELEASE_ACTIVATED = "release.activated";
    public static final String RELEASE_ROLLED_BACK = "release.rolled_back";
    public static final String RELEASE_PINNED = "release.pinned";
    public static final String PREVIEW_READY = "preview.ready";
    public static final String PREVIEW_EXPIRED = "preview.expired";
    public static final String SESSION_CREATED = "session.created";
    public static final String KEY_CREATED = "key.created";
    public static final String KEY_REVOKED = "key.revoked";
    /** The event {@code POST /webhook_endpoints/{id}/test} sends; no endpoint subscribes to it. */
    public static final String PING = "ping";
    /** What an endpoint subscribes to for every type, present and future. */
    public static final String ALL = "*";

    /** Every type an endpoint can subscribe to. */
    public static final List<String> TYPES = List.of(DEPLOY_QUEUED, DEPLOY_SUCCEEDED, DEPLOY_FAILED,
            RELEASE_ACTIVATED, RELEASE_ROLLED_BACK, RELEASE_PINNED, PREVIEW_READY, PREVIEW_EXPIRED, SESSION_CREATED,
            KEY_CREATED, KEY_REVOKED);

    /** Serializes maps and plain values only: its settings never change after construction. */
    private static final ObjectMapper JSON = new ObjectMapper();

    private Events() {
    }

    /**
     * Records event {@code type} of org {@code orgId} (and of project {@code projectName} of that
     * org, or null for org events such as {@code key.created}) inside the caller's transaction;
     * returns its id, or null when no enabled endpoint of the org subscribes to {@code type}.
     */
    public static String record(Handle h, String orgId, String projectName, String type, Map<String, ?> data) {
        if (!TYPES.contains(type)) {
            throw new IllegalArgumentException("unknown event type " + type);
        }
        // On PostgreSQL the endpoints are share-locked until the change commits, so that an endpoint
        // deleted meanwhile cannot break the deliveries' foreign key and roll the change back.
        List<String> endpoints = h.createQuery(
                        "SELECT id, events FROM webhook_endpoints WHERE org_id = :org AND disabled_at IS NULL ORDER BY id"
                                + (postgres(h) ? " FOR KEY SHARE" : ""))
                .bind("org", orgId)
                .map((rs, ctx) -> subscribes(rs.getString("events"), type) ? rs.getString("id") : null)
                .list()
                .stream().filter(id -> id != null).toList();
        if (endpoints.isEmpty()) {
            return null;
        }
        String projectId = projectName == null ? null : h.createQuery(
                        "SELECT id FROM projects WHERE org_id = :org AND name = :name")
                .bind("org", orgId).bind("name", projectName).mapTo(String.class).findOne().orElse(null);
        String eventId = insert(h, orgId, projectId, projectName, type, data);
        for (String endpoint : endpoints) {
            insertDelivery(h, endpoint, eventId, projectId == null ? "" : projectId);
        }
        return eventId;
    }

    /**
     * Records a {@code ping} event for one endpoint, whatever it subscribes to, inside the caller's
     * transaction; returns its id. A ping has a lane of its own: it is not held up by the
     * endpoint's other deliveries.
     */
    public static String ping(Handle h, String orgId, String endpointId) {
        String eventId = insert(h, orgId, null, null, PING, Map.of("endpoint", endpointId,
                "message", "a test event sent from Karta"));
        insertDelivery(h, endpointId, eventId, eventId);
        return eventId;
    }

    private static boolean postgres(Handle h) {
        try {
            return h.getConnection().getMetaData().getURL().startsWith("jdbc:postgresql:");
        } catch (SQLException e) {
            throw new IllegalStateException("cannot tell the database of a connection", e);
        }
    }

    /** Whether an endpoint's stored subscription ({@code *}, or types separated by spaces) covers {@code type}. */
    public static boolean subscribes(String stored, String type) {
        return Arrays.asList(stored.split(" ")).stream().anyMatch(t -> t.equals(ALL) || t.equals(type));
    }

    /** An ordered map for event data, from alternating keys and values; null values are kept as JSON null. */
    public static Map<String, Object> data(Object... keysAndValues) {
        if (keysAndValues.length % 2 != 0) {
            throw new IllegalArgumentException("keys and values must come in pairs");
        }
        Map<String, Object> data = new LinkedHashMap<>();
        for (int i = 0; i < keysAndValues.length; i += 2) {
            data.put((String) keysAndValues[i], keysAndValues[i + 1]);
        }
        return data;
    }

    private static String insert(Handle h, String orgId, String projectId, String projectName, String type,
                                 Map<String, ?> data) {
        String orgName = h.createQuery("SELECT name FROM orgs WHERE id = :id").bind("id", orgId)
                .mapTo(String.class).findOne().orElseThrow(() -> new IllegalStateException("org " + orgId + " is gone"));
        Instant now = Instant.now().truncatedTo(ChronoUnit.MILLIS);
        String eventId = Ids.next("evt");
        Map<String, Object> event = new LinkedHashMap<>();
        event.put("id", eventId);
        event.put("type", type);
        event.put("created_at", now.toString());
        event.put("org", orgName);
        event.put("project", projectName);
        event.put("data", data);
        String payload;
        try {
            payload = JSON.writeValueAsString(event);
        } catch (JsonProcessingException e) {
            throw new IllegalArgumentException("event data of " + type + " is not JSON", e);
        }
        h.createUpdate("INSERT INTO webhook_events (id, org_id, project_id, type, payload, created_at) "
                        + "VALUES (:id, :org, :project, :type, :payload, :at)")
                .bind("id", eventId).bind("org", orgId).bind("project", projectId).bind("type", type)
                .bind("payload", payload).bind("at", now.toEpochMilli())
                .execute();
        return eventId;
    }

    private static void insertDelivery(Handle h, String endpointId, String eventId, String lane) {
        long now = System.currentTimeMillis();
        h.createUpdate("INSERT INTO webhook_event_deliveries (endpoint_id, event_id, lane, status, attempts, due_since, "
                        + "next_attempt_at, created_at) VALUES (:endpoint, :event, :lane, 'pending', 0, :now, :now, :now)")
                .bind("endpoint", endpointId).bind("event", eventId).bind("lane", lane).bind("now", now)
                .execute();
    }
}
