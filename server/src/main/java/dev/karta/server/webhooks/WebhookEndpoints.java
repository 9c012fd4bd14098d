package dev.karta.server.webhooks;

import dev.karta.api.Printable;
import dev.karta.api.WebhookDelivery;
import dev.karta.api.WebhookEndpoint;
import dev.karta.server.Config;
import dev.karta.server.Ids;
import dev.karta.server.audit.AuditLog;
import dev.karta.server.events.Events;
import dev.karta.server.http.Actor;
import dev.karta.server.http.ApiError;
import dev.karta.server.repos.Egress;
import dev.karta.server.store.Database;
import dev.karta.server.store.SecretBox;
import java.net.URI;
import java.net.URISyntaxException;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.Base64;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import org.jdbi.v3.core.Handle;

/**
 * An org's event webhook endpoints: created, listed, changed, deleted, their secrets rotated,
 * test events sent and deliveries retried. Every rule on what a tenant sends is here, each with
 * its named limit. An endpoint of another org is answered as missing.
 */
public final class WebhookEndpoints {
    static final int MAX_URL_LENGTH = 2048;
    static final int MAX_DESCRIPTION_LENGTH = 200;
    static final int SECRET_BYTES = 32;
    static final String SECRET_PREFIX = "whsec_";

    private static final SecureRandom RANDOM = new SecureRandom();

    private final Database db;
    private final WebhookStore store;
    private final AuditLog audit;
    private final SecretBox secrets;
    private final Config.Webhooks settings;
    private final Runnable wake;

    /** {@code wake} tells the delivery worker that something became due (after commit). */
    public WebhookEndpoints(Database db, AuditLog audit, SecretBox secrets, Config.Webhooks settings, Runnable wake) {
        this.db = db;
        this.store = new WebhookStore();
        this.audit = audit;
        this.secrets = secrets;
        this.settings = settings;
        this.wake = wake;
    }

    /** An endpoint with its secret, which is shown once. */
    public record WithSecret(WebhookEndpoint endpoint, String secret) {
    }

    public WithSecret create(Actor actor, String url, List<String> events, String description) {
        String checkedUrl = checkUrl(url);
        List<String> checkedEvents = checkEvents(events);
        String checkedDescription = checkDescription(description == null ? "" : description);
        String secret = newSecret();
        long now = System.currentTimeMillis();
        WebhookStore.Endpoint endpoint = new WebhookStore.Endpoint(Ids.next("whe"), actor.orgId(), checkedUrl,
                checkedDescription, checkedEvents, secrets.seal(secret), null, null, now, now);
        db.inTransaction(h -> {
            // The audit append locks the org's chain first: two creations of one org count in turn.
            audit.append(h, actor, "webhook_endpoint.create", "webhook_endpoint:" + endpoint.id());
            if (store.count(h, actor.orgId()) >= settings.maxEndpointsPerOrg()) {
                throw ApiError.tooManyRequests("this org has its limit of " + settings.maxEndpointsPerOrg()
                        + " webhook endpoints (--max-webhook-endpoints); delete one first");
            }
            store.insert(h, endpoint);
            return null;
        });
        return new WithSecret(endpoint.toWire(), secret);
    }

    public List<WebhookEndpoint> list(String orgId) {
        return db.withHandle(h -> store.list(h, orgId)).stream().map(WebhookStore.Endpoint::toWire).toList();
    }

    public WebhookEndpoint get(String orgId, String id) {
        return db.withHandle(h -> require(h, orgId, id)).toWire();
    }

    /** Changes the fields given (null ones stay); enabling a disabled endpoint makes its pending deliveries due now. */
    public WebhookEndpoint update(Actor actor, String id, String url, List<String> events, Boolean enabled,
                                  String description) {
        String checkedUrl = url == null ? null : checkUrl(url);
        List<String> checkedEvents = events == null ? null : checkEvents(events);
        String checkedDescription = description == null ? null : checkDescription(description);
        WebhookEndpoint updated = db.inTransaction(h -> {
            WebhookStore.Endpoint e = require(h, actor.orgId(), id);
            long now = System.currentTimeMillis();
            boolean enable = Boolean.TRUE.equals(enabled) && !e.enabled();
            Long disabledAt = enabled == null ? e.disabledAt() : enabled ? null : e.disabledAt() != null ? e.disabledAt() : now;
            String reason = enabled == null ? e.disabledReason() : enabled ? null : e.disabledReason();
            WebhookStore.Endpoint changed = new WebhookStore.Endpoint(e.id(), e.orgId(),
                    checkedUrl == null ? e.url() : checkedUrl,
                    checkedDescription == null ? e.description() : checkedDescription,
                    checkedEvents == null ? e.events() : checkedEvents, e.secret(), disabledAt, reason, e.createdAt(),
                    now);
            audit.append(h, actor, "webhook_endpoint.update", "webhook_endpoint:" + id);
            store.update(h, changed, now);
            if (enable) {
                store.dueNow(h, id, now);
            }
            return require(h, actor.orgId(), id).toWire();
        });
        wake.run();
        return updated;
    }

    public void delete(Actor actor, String id) {
        db.inTransaction(h -> {
            require(h, actor.orgId(), id);
            audit.append(h, actor, "webhook_endpoint.delete", "webhook_endpoint:" + id);
            store.delete(h, id);
            return null;
        });
    }

    /**
     * Replaces the endpoint's secret with a new one, shown once. Deliveries signed from now on use
     * the new secret, including retries of earlier events.
     */
    public WithSecret rotateSecret(Actor actor, String id) {
        String secret = newSecret();
        WebhookEndpoint rotated = db.inTransaction(h -> {
            WebhookStore.Endpoint e = require(h, actor.orgId(), id);
            audit.append(h, actor, "webhook_endpoint.rotate_secret", "webhook_endpoint:" + id);
            long now = System.currentTimeMillis();
            store.update(h, new WebhookStore.Endpoint(e.id(), e.orgId(), e.url(), e.description(), e.events(),
                    secrets.seal(secret), e.disabledAt(), e.disabledReason(), e.createdAt(), now), now);
            return require(h, actor.orgId(), id).toWire();
        });
        return new WithSecret(rotated, secret);
    }

    /** Queues a {@code ping} event for the endpoint alone; returns its delivery. A disabled endpoint is a 409. */
    public WebhookDelivery test(Actor actor, String id) {
        WebhookDelivery delivery = db.inTransaction(h -> {
            WebhookStore.Endpoint e = require(h, actor.orgId(), id);
            if (!e.enabled()) {
                throw ApiError.conflict("webhook endpoint " + id + " is disabled"
                        + (e.disabledReason() == null ? "" : " (" + e.disabledReason() + ")") + "; enable it first");
            }
            String eventId = Events.ping(h, actor.orgId(), id);
            return store.deliveryOfEvent(h, id, eventId).orElseThrow();
        });
        wake.run();
        return delivery;
    }

    public List<WebhookDelivery> deliveries(String orgId, String id, int limit) {
        return db.withHandle(h -> {
            require(h, orgId, id);
            return store.deliveries(h, id, limit);
        });
    }

    /** Sends a delivery again (delivered, failed or pending): it becomes due now, with a new retry window. */
    public WebhookDelivery retry(Actor actor, String id, long deliveryId) {
        WebhookDelivery delivery = db.inTransaction(h -> {
            require(h, actor.orgId(), id);
            if (!store.retry(h, id, deliveryId, System.currentTimeMillis())) {
                throw ApiError.notFound("delivery", Long.toString(deliveryId));
            }
            audit.append(h, actor, "webhook_delivery.retry", "webhook_endpoint:" + id + "/" + deliveryId);
            return store.delivery(h, id, deliveryId).orElseThrow();
        });
        wake.run();
        return delivery;
    }

    private WebhookStore.Endpoint require(Handle h, String orgId, String id) {
        return store.find(h, orgId, id).orElseThrow(() -> ApiError.notFound("webhook endpoint", id));
    }

    /**
     * The endpoint URL, or a 422 {@code webhook_url_refused}: an absolute {@code https://} URL
     * without credentials or fragment, at most {@link #MAX_URL_LENGTH} characters, whose host is a
     * public address or a name resolving only to public addresses (or not resolving now: it is
     * checked again on every delivery). With {@code --allow-private-webhooks}, {@code http://} and
     * private addresses are allowed too.
     */
    String checkUrl(String url) {
        if (url == null || url.isBlank()) {
            throw ApiError.badRequest("url is required");
        }
        if (url.length() > MAX_URL_LENGTH) {
            throw ApiError.badRequest("url must be at most " + MAX_URL_LENGTH + " characters");
        }
        if (Printable.hasControlCharacters(url) || url.contains(" ")) {
            throw ApiError.badRequest("url must not contain spaces or control characters");
        }
        URI uri;
        try {
            uri = new URI(url);
        } catch (URISyntaxException e) {
            throw ApiError.badRequest("url is not a valid URL: " + e.getReason());
        }
        String scheme = uri.getScheme() == null ? "" : uri.getScheme().toLowerCase(Locale.ROOT);
        if (!scheme.equals("https") && !(scheme.equals("http") && settings.allowPrivate())) {
            throw refused("only https:// URLs are allowed" + (scheme.equals("http")
                    ? " (the operator can allow http:// with --allow-private-webhooks)" : ""));
        }
        if (uri.getHost() == null || uri.getRawAuthority() == null) {
            throw ApiError.badRequest("url must name a host, e.g. https://hooks.example.com/karta");
        }
        if (uri.getRawUserInfo() != null) {
            throw refused("the URL must not hold credentials (user:password@); put a token in the path or query");
        }
        if (uri.getRawFragment() != null) {
            throw ApiError.badRequest("url must not have a #fragment");
        }
        if (!settings.allowPrivate()) {
            String reason = Egress.refusedHost(uri.getHost());
            if (reason != null) {
                throw refused(reason + " (the operator can allow private addresses with --allow-private-webhooks)");
            }
        }
        return url;
    }

    private static ApiError refused(String reason) {
        return ApiError.unprocessable("webhook_url_refused", "this webhook URL is not allowed: " + reason);
    }

    /** The subscribed types, each from {@link Events#TYPES}, or {@code *} alone; duplicates dropped. */
    static List<String> checkEvents(List<String> events) {
        if (events == null || events.isEmpty()) {
            throw ApiError.badRequest("events must list at least one event type, or \"*\" for all: "
                    + String.join(", ", Events.TYPES));
        }
        Set<String> checked = new LinkedHashSet<>();
        for (String event : events) {
            if (event == null || !(Events.TYPES.contains(event) || Events.ALL.equals(event))) {
                throw ApiError.badRequest("unknown event type '" + (event == null ? "null" : Printable.line(event)) + "': use \"*\" or one of "
                        + String.join(", ", Events.TYPES));
            }
            checked.add(event);
        }
        if (checked.contains(Events.ALL) && checked.size() > 1) {
            throw ApiError.badRequest("\"*\" already subscribes to every event type: list it alone");
        }
        return new ArrayList<>(checked);
    }

    static String checkDescription(String description) {
        if (description.length() > MAX_DESCRIPTION_LENGTH) {
            throw ApiError.badRequest("description must be at most " + MAX_DESCRIPTION_LENGTH + " characters");
        }
        if (Printable.hasControlCharacters(description)) {
            throw ApiError.badRequest("description must not contain control characters (line breaks, escapes)");
        }
        return description;
    }

    /** {@code whsec_} and the base64 of 32 random bytes: the Standard Webhooks form. */
    static String newSecret() {
        byte[] key = new byte[SECRET_BYTES];
        RANDOM.nextBytes(key);
        return SECRET_PREFIX + Base64.getEncoder().encodeToString(key);
    }
}
