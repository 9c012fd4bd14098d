package dev.karta.server.ingest.webhooks;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.karta.api.Printable;
import dev.karta.server.audit.AuditLog;
import dev.karta.server.deploys.DeployRecord;
import dev.karta.server.deploys.DeploySource;
import dev.karta.server.http.Actor;
import dev.karta.server.http.ApiError;
import dev.karta.server.http.Requests;
import dev.karta.server.http.Routes;
import dev.karta.server.ingest.Ingest;
import dev.karta.server.logs.LogSource;
import dev.karta.server.logs.LogStore;
import dev.karta.server.previews.Previews;
import dev.karta.server.repos.Bindings;
import dev.karta.server.repos.RepoUrl;
import dev.karta.server.store.Database;
import dev.karta.server.store.Digests;
import io.javalin.config.JavalinConfig;
import io.javalin.config.RoutesConfig;
import io.javalin.http.Context;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.security.InvalidKeyException;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.regex.Pattern;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;
import org.jdbi.v3.core.Handle;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * {@code POST /webhooks/github}: GitHub's {@code push}, {@code pull_request} (previews,
 * docs/previews.md) and {@code ping} deliveries, without an
 * API key. The raw body, read here byte for byte from the request stream up to the configured cap
 * (GitHub's own cap, 25 MiB, by default), as JSON or as GitHub's form encoding
 * ({@code payload=<url-encoded JSON>}, signed as sent, decoded after), must carry the HMAC-SHA256
 * of the bound project's webhook secret in {@code X-Hub-Signature-256}; the repository in the
 * payload picks the candidate bindings (GitHub bindings by {@code repository.full_name}, git-URL
 * bindings by {@code clone_url}, {@code ssh_url}, {@code html_url} or {@code git_url}). A
 * missing or wrong signature, or a repository no binding accepts, is the same 401: nothing is
 * queued and nothing says which repositories are bound (a {@code ping} naming no repository, from
 * an organization webhook, is answered 200 saying what to set up instead). A push to the bound branch deploys {@code after} (source {@code webhook}); other
 * branches, tags, deletions and other events are answered 200 and ignored, saying why. Each
 * {@code X-GitHub-Delivery} is processed once: the delivery row is written in the transaction
 * that queues the deploy, under a unique key, so a redelivery queues nothing. So is each body, per
 * project: the row also holds the SHA-256 of the signed raw body under a unique index, so a
 * captured delivery replayed under a new delivery id (to redeploy an old commit) queues nothing
 * either. Rows live as long as their project, so both windows are the project's lifetime. A real
 * force push back to an older commit still deploys: its body differs ({@code before}, at least).
 */
public final class WebhookRoutes implements Routes {
    private static final Logger LOG = LoggerFactory.getLogger(WebhookRoutes.class);
    private static final Pattern DELIVERY = Pattern.compile("[A-Za-z0-9._:-]{1,128}");
    private static final Pattern EVENT = Pattern.compile("[a-z_]{1,64}");
    private static final Pattern FULL_SHA = Pattern.compile("[0-9a-f]{40}");
    private static final String NULL_SHA = "0".repeat(40);
    private static final String SIGNATURE_PREFIX = "sha256=";
    private static final long DRAIN_BYTES = 16L << 20;
    private static final int MAX_PR_NUMBER = 999_999_999;
    private static final String FORM = "application/x-www-form-urlencoded";
    private static final int CHUNK = 64 * 1024;
    private static final int BUDGET_WAIT_SECONDS = 2;
    private static final String ORG_PING = "ping from a webhook that names no repository (an organization or app "
            + "webhook): nothing checked or recorded. Karta verifies each delivery with the secret of the repository's "
            + "binding, so add the webhook to the repository itself (Settings > Webhooks) with the secret that "
            + "karta repo bind printed";

    /** What the webhook did with a delivery: {@code deployed}, {@code ignored}, {@code duplicate} or {@code pong}. */
    @JsonInclude(JsonInclude.Include.NON_NULL)
    record Answer(String delivery, String event, String project, String outcome, String message, String deployId,
                  String commitSha, String preview) {
        Answer(String delivery, String event, String project, String outcome, String message) {
            this(delivery, event, project, outcome, message, null, null, null);
        }

        Answer(String delivery, String event, String project, String outcome, String message, String deployId,
               String commitSha) {
            this(delivery, event, project, outcome, message, deployId, commitSha, null);
        }
    }

    /** A delivery (or the same body under another delivery id) processed before; its transaction rolls back. */
    private static final class DuplicateDelivery extends RuntimeException {
        private final String earlier;

        /** {@code earlier}: the delivery id that first brought the same body, null for the same delivery id. */
        DuplicateDelivery(String earlier) {
            super(null, null, false, false);
            this.earlier = earlier;
        }
    }

    /** One verified delivery: its id and the digest of its raw body. */
    private record Delivery(String id, String bodyDigest) {
    }

    private final Database db;
    private final Bindings bindings;
    private final Ingest ingest;
    private final AuditLog audit;
    private final LogStore logs;
    private final ObjectMapper json;
    private final long maxBytes;
    private final Previews previews;
    /** Shares of {@link #CHUNK} bytes of the memory bodies being received may hold, together. */
    private final Semaphore budget;

    public WebhookRoutes(Database db, Bindings bindings, Ingest ingest, AuditLog audit, LogStore logs,
                         ObjectMapper json, long maxBytes, Previews previews) {
        this.previews = previews;
        this.db = db;
        this.bindings = bindings;
        this.ingest = ingest;
        this.audit = audit;
        this.logs = logs;
        this.json = json;
        this.maxBytes = maxBytes;
        this.budget = new Semaphore((int) Math.min(Integer.MAX_VALUE, 4 * ((maxBytes + CHUNK) / CHUNK + 1)));
    }

    @Override
    public void register(JavalinConfig config) {
        RoutesConfig r = config.routes;
        // No scope: GitHub signs deliveries with the binding's secret instead of sending a key.
        r.post("/webhooks/github", this::receive);
    }

    public void receive(Context ctx) throws IOException {
        try (HeldBody held = rawBody(ctx)) {
            receive(ctx, held.bytes());
        }
    }

    private void receive(Context ctx, byte[] body) {
        String event = ctx.header("X-GitHub-Event");
        String type = ctx.contentType() == null ? "" : ctx.contentType().split(";")[0].trim().toLowerCase(Locale.ROOT);
        JsonNode payload = switch (type) {
            case "", "application/json" -> parse(body);
            case FORM -> parse(formPayload(body));
            default -> throw new ApiError(ApiError.Kind.UNSUPPORTED_MEDIA_TYPE, "expected Content-Type "
                    + "application/json or application/x-www-form-urlencoded (GitHub's two content types), got '"
                    + Printable.line(type) + "'");
        };
        if ("ping".equals(event) && !payload.path("repository").isObject()) {
            // An organization (or app) webhook's ping names no repository, so no binding's secret
            // can check it: answer it so GitHub shows the hook as reachable, and say what works.
            LOG.info("webhook ping without a repository ({} hook {})", payload.path("hook").path("type").asText("?"),
                    payload.path("hook_id").asText("?"));
            String delivery = ctx.header("X-GitHub-Delivery");
            ctx.status(200).json(new Answer(delivery != null && DELIVERY.matcher(delivery).matches() ? delivery : null,
                    "ping", null, "pong", ORG_PING));
            return;
        }
        String signature = ctx.header("X-Hub-Signature-256");
        if (signature == null || signature.isBlank()) {
            throw ApiError.unauthorized("missing X-Hub-Signature-256: give the GitHub webhook the secret that "
                    + "karta repo bind printed");
        }
        Bindings.Binding binding = verify(payload, body, signature);

        if (event == null || !EVENT.matcher(event).matches()) {
            throw ApiError.badRequest("missing or malformed X-GitHub-Event header");
        }
        String deliveryId = ctx.header("X-GitHub-Delivery");
        if (deliveryId == null || !DELIVERY.matcher(deliveryId).matches()) {
            throw ApiError.badRequest("missing or malformed X-GitHub-Delivery header");
        }
        Delivery delivery = new Delivery(deliveryId, Digests.sha256Hex(body));
        Actor actor = new Actor(binding.orgId(), null, Requests.requestId(ctx), ctx.ip());
        Answer answer = switch (event) {
            case "ping" -> settle(actor, binding, delivery, event, "pong",
                    "webhook for " + binding.projectName() + " is set up: pushes to '" + binding.branch() + "' deploy");
            case "push" -> push(actor, binding, delivery, payload);
            case "pull_request" -> pullRequest(actor, binding, delivery, payload);
            default -> settle(actor, binding, delivery, event, "ignored",
                    "event '" + event + "' does not deploy: only push, pull_request (and ping) are used");
        };
        LOG.info("webhook delivery {} ({}) for {}: {}", deliveryId, event, binding.projectName(), answer.outcome());
        ctx.status(answer.outcome().equals("deployed") ? 202 : 200).json(answer);
    }

    private Answer push(Actor actor, Bindings.Binding binding, Delivery delivery, JsonNode payload) {
        String ref = payload.path("ref").asText("");
        String after = payload.path("after").asText("").toLowerCase(Locale.ROOT);
        if (ref.isEmpty()) {
            throw ApiError.badRequest("push payload has no 'ref'");
        }
        String wanted = "refs/heads/" + binding.branch();
        if (payload.path("deleted").asBoolean(false) || after.equals(NULL_SHA)) {
            return settle(actor, binding, delivery, "push", "ignored", "deletion of " + ref + " does not deploy");
        }
        if (ref.startsWith("refs/tags/")) {
            return settle(actor, binding, delivery, "push", "ignored", "tag push (" + ref + ") does not deploy; "
                    + "pushes to branch '" + binding.branch() + "' do");
        }
        if (!ref.equals(wanted)) {
            return settle(actor, binding, delivery, "push", "ignored", "push to " + ref + " does not deploy; "
                    + "pushes to branch '" + binding.branch() + "' do");
        }
        if (!FULL_SHA.matcher(after).matches()) {
            throw ApiError.badRequest("push payload has no valid 'after' commit (40 hex digits)");
        }
        try {
            DeployRecord deploy = ingest.accept(actor, binding.projectName(), false,
                    new Ingest.Arrival(DeploySource.WEBHOOK, after, null, null,
                            "GitHub push to " + binding.branch() + " (delivery " + delivery.id() + ")",
                            "webhook:" + delivery.id(), null),
                    (h, queued) -> {
                        claim(h, binding, delivery, "push", "deployed", queued.id());
                        audit.append(h, actor, "webhook.push", "project:" + binding.projectName() + "/delivery:"
                                + delivery.id() + "/" + queued.id());
                    });
            return new Answer(delivery.id(), "push", binding.projectName(), "deployed", "deploy " + deploy.id()
                    + " of " + after + " queued", deploy.id(), after);
        } catch (DuplicateDelivery e) {
            return duplicate(binding, delivery, "push", e);
        }
    }

    /**
     * A {@code pull_request} delivery: {@code opened}, {@code reopened} and {@code synchronize}
     * build the head commit as preview {@code pr-{number}}; {@code closed} expires it; other actions
     * are ignored. A pull request whose head repository is not the bound one (a fork, or a deleted
     * head repository) is ignored unless the binding has {@code previews_from_forks}.
     */
    private Answer pullRequest(Actor actor, Bindings.Binding binding, Delivery delivery, JsonNode payload) {
        String action = payload.path("action").asText("");
        JsonNode pr = payload.path("pull_request");
        int number = payload.path("number").asInt(pr.path("number").asInt(0));
        if (number < 1 || number > MAX_PR_NUMBER) {
            throw ApiError.badRequest("pull_request payload has no valid 'number'");
        }
        String name = "pr-" + number;
        switch (action) {
            case "opened", "reopened", "synchronize" -> {
                String head = pr.path("head").path("sha").asText("").toLowerCase(Locale.ROOT);
                if (!FULL_SHA.matcher(head).matches()) {
                    throw ApiError.badRequest("pull_request payload has no valid 'pull_request.head.sha' (40 hex digits)");
                }
                JsonNode headRepo = pr.path("head").path("repo");
                boolean sameRepo = headRepo.isObject() && keys(headRepo).contains(binding.url().key());
                if (!sameRepo && !binding.previewsFromForks()) {
                    return settle(actor, binding, delivery, "pull_request", "ignored", "pull request #" + number
                            + " comes from another repository (" + headRepo.path("full_name").asText("deleted")
                            + "): previews of forks are off; bind with previews_from_forks: true to build them");
                }
                try {
                    Previews.Pushed pushed = previews.push(actor, binding.projectName(), number, head,
                            DeploySource.WEBHOOK, "github", "webhook:" + delivery.id(),
                            "GitHub pull request #" + number + " " + action + " (delivery " + delivery.id() + ")",
                            (h, queued) -> {
                                claim(h, binding, delivery, "pull_request", "deployed", queued.id());
                                audit.append(h, actor, "webhook.pull_request", "project:" + binding.projectName()
                                        + "/delivery:" + delivery.id() + "/" + queued.id());
                            });
                    return new Answer(delivery.id(), "pull_request", binding.projectName(), "deployed", "preview "
                            + name + ": deploy " + pushed.deployId() + " of " + head + " queued", pushed.deployId(),
                            head, name);
                } catch (DuplicateDelivery e) {
                    return duplicate(binding, delivery, "pull_request", e);
                } catch (RuntimeException e) {
                    if (Database.isUniqueViolation(e)) {
                        return duplicate(binding, delivery, "pull_request", null);
                    }
                    throw e;
                }
            }
            case "closed" -> {
                try {
                    boolean expired = previews.close(actor, binding.projectName(), number,
                            "pull request #" + number + " closed (delivery " + delivery.id() + ")", h -> {
                                claim(h, binding, delivery, "pull_request", "expired", null);
                                audit.append(h, actor, "webhook.pull_request", "project:" + binding.projectName()
                                        + "/delivery:" + delivery.id());
                            });
                    return new Answer(delivery.id(), "pull_request", binding.projectName(), "expired", expired
                            ? "preview " + name + " expired" : "preview " + name + " was not live", null, null, name);
                } catch (DuplicateDelivery e) {
                    return duplicate(binding, delivery, "pull_request", e);
                } catch (RuntimeException e) {
                    if (Database.isUniqueViolation(e)) {
                        return duplicate(binding, delivery, "pull_request", null);
                    }
                    throw e;
                }
            }
            default -> {
                return settle(actor, binding, delivery, "pull_request", "ignored", "pull_request action '" + action
                        + "' builds nothing: opened, reopened and synchronize build a preview, closed expires it");
            }
        }
    }

    /** Records a delivery that queues nothing (ping, ignored push, other event), once. */
    private Answer settle(Actor actor, Bindings.Binding binding, Delivery delivery, String event, String outcome,
                          String message) {
        try {
            db.inTransaction(h -> {
                claim(h, binding, delivery, event, outcome, null);
                audit.append(h, actor, "webhook." + event, "project:" + binding.projectName() + "/delivery:"
                        + delivery.id());
                logs.append(h, binding.projectId(), LogSource.SYSTEM, null, null, "GitHub webhook delivery "
                        + delivery.id() + " (" + event + "): " + message);
                return null;
            });
        } catch (DuplicateDelivery e) {
            return duplicate(binding, delivery, event, e);
        } catch (RuntimeException e) {
            if (Database.isUniqueViolation(e)) {
                return duplicate(binding, delivery, event, null);
            }
            throw e;
        }
        logs.bus().publish(binding.projectId());
        return new Answer(delivery.id(), event, binding.projectName(), outcome, message, null, null);
    }

    private static Answer duplicate(Bindings.Binding binding, Delivery delivery, String event, DuplicateDelivery why) {
        String message = why != null && why.earlier != null
                ? "this payload was already processed (as delivery " + why.earlier + "); nothing queued"
                : "delivery " + delivery.id() + " was already processed; nothing queued";
        return new Answer(delivery.id(), event, binding.projectName(), "duplicate", message, null, null);
    }

    /**
     * Inserts the delivery row, or throws {@link DuplicateDelivery} when its delivery id, or its
     * body for this project, was seen before. Two racing copies both pass the look-ups on
     * PostgreSQL; the primary key or the unique body index then fails one of them, and
     * {@link Ingest} retries it once, when the look-up sees the other.
     */
    private static void claim(Handle h, Bindings.Binding binding, Delivery delivery, String event, String outcome,
                              String deployId) {
        boolean seen = h.createQuery("SELECT COUNT(*) FROM webhook_deliveries WHERE delivery_id = :d")
                .bind("d", delivery.id()).mapTo(Long.class).one() > 0;
        if (seen) {
            throw new DuplicateDelivery(null);
        }
        h.createQuery("SELECT delivery_id FROM webhook_deliveries WHERE project_id = :p AND body_digest = :digest")
                .bind("p", binding.projectId())
                .bind("digest", delivery.bodyDigest())
                .mapTo(String.class)
                .findFirst()
                .ifPresent(earlier -> {
                    throw new DuplicateDelivery(earlier);
                });
        h.createUpdate("""
                        INSERT INTO webhook_deliveries (delivery_id, project_id, event, outcome, deploy_id, received_at,
                                                        body_digest)
                        VALUES (:d, :p, :e, :o, :deploy, :now, :digest)
                        """)
                .bind("d", delivery.id())
                .bind("digest", delivery.bodyDigest())
                .bind("p", binding.projectId())
                .bind("e", event)
                .bind("o", outcome)
                .bind("deploy", deployId)
                .bind("now", System.currentTimeMillis())
                .execute();
    }

    /**
     * The binding whose secret signed {@code body}. Every binding of the payload's repository is
     * tried, compared in constant time; none matching is a 401 that does not say whether the
     * repository is bound at all.
     */
    private Bindings.Binding verify(JsonNode payload, byte[] body, String signature) {
        byte[] given = signature.trim().toLowerCase(Locale.ROOT).getBytes(StandardCharsets.US_ASCII);
        Bindings.Binding match = null;
        for (Bindings.Binding candidate : bindings.matching(keys(payload.path("repository")))) {
            byte[] expected = (SIGNATURE_PREFIX + hmac(candidate.secret(), body)).getBytes(StandardCharsets.US_ASCII);
            if (MessageDigest.isEqual(expected, given) && match == null) {
                match = candidate;
            }
        }
        if (match == null) {
            throw ApiError.unauthorized("X-Hub-Signature-256 does not match: no bound project of this repository has "
                    + "that webhook secret (check the repository binding and the secret)");
        }
        return match;
    }

    /** The binding keys the payload's repository can match: its full name, and its URLs for git bindings. */
    private static Set<String> keys(JsonNode repository) {
        Set<String> keys = new LinkedHashSet<>();
        String fullName = repository.path("full_name").asText("");
        if (!fullName.isEmpty()) {
            keys.add(RepoUrl.githubKey(fullName));
        }
        for (String field : List.of("clone_url", "ssh_url", "html_url", "git_url")) {
            JsonNode url = repository.get(field);
            if (url != null && url.isTextual()) {
                RepoUrl.keyOf(url.asText()).ifPresent(keys::add);
            }
        }
        return keys;
    }

    static String hmac(String secret, byte[] body) {
        try {
            Mac mac = Mac.getInstance("HmacSHA256");
            mac.init(new SecretKeySpec(secret.getBytes(StandardCharsets.UTF_8), "HmacSHA256"));
            return Digests.hex(mac.doFinal(body));
        } catch (NoSuchAlgorithmException | InvalidKeyException e) {
            throw new IllegalStateException(e);
        }
    }

    /**
     * The {@code payload} field of a form-encoded delivery (GitHub's default content type sends
     * {@code payload=<url-encoded JSON>}), decoded to the JSON's bytes. The signature was checked
     * (or is checked) on the raw body, never on this.
     */
    static byte[] formPayload(byte[] body) {
        String form = new String(body, StandardCharsets.US_ASCII);
        for (String pair : form.split("&")) {
            int eq = pair.indexOf('=');
            String name = eq < 0 ? pair : pair.substring(0, eq);
            if (name.equals("payload")) {
                try {
                    return URLDecoder.decode(eq < 0 ? "" : pair.substring(eq + 1), StandardCharsets.UTF_8)
                            .getBytes(StandardCharsets.UTF_8);
                } catch (IllegalArgumentException e) {
                    throw ApiError.badRequest("form-encoded webhook payload has a malformed %-escape");
                }
            }
        }
        throw ApiError.badRequest("form-encoded webhook delivery has no 'payload' field: GitHub sends "
                + "payload=<JSON>");
    }

    private JsonNode parse(byte[] body) {
        if (body.length == 0) {
            throw ApiError.badRequest("request body is empty: GitHub sends the event as JSON");
        }
        try {
            JsonNode payload = json.readTree(body);
            if (payload == null || !payload.isObject()) {
                throw ApiError.badRequest("webhook payload must be a JSON object");
            }
            return payload;
        } catch (JsonProcessingException e) {
            throw new ApiError(ApiError.Kind.BAD_REQUEST, "malformed_json", "webhook payload is not valid JSON");
        } catch (IOException e) {
            throw ApiError.badRequest("could not read the webhook payload");
        }
    }

    /**
     * A delivery's raw body and the part of the memory budget it holds; closing it gives that back.
     */
    private record HeldBody(byte[] bytes, int chunks, Semaphore budget) implements AutoCloseable {
        @Override
        public void close() {
            budget.release(chunks);
        }
    }

    /**
     * The body exactly as sent, streamed from the servlet input (Javalin's {@code ctx.body()} is
     * capped at the JSON limit and may decode it): 413 past {@code maxBytes}. Each 64 KiB read
     * first takes its share of the memory budget for bodies (four of the largest at once, since no
     * body can be checked before all of it is in: the payload names the repository whose secret
     * signs it); a share not free within {@value #BUDGET_WAIT_SECONDS} s is a 503, and every share
     * is given back when the delivery is answered or fails.
     */
    private HeldBody rawBody(Context ctx) throws IOException {
        long declared = ctx.req().getContentLengthLong();
        int cap = (int) Math.min(maxBytes, Integer.MAX_VALUE - 16);
        try (InputStream in = ctx.req().getInputStream()) {
            if (declared > maxBytes) {
                throw tooLarge(in, declared);
            }
            ByteArrayOutputStream buffer = new ByteArrayOutputStream(declared > 0 ? (int) declared : 8192);
            byte[] chunk = new byte[CHUNK];
            int held = 0;
            try {
                while (true) {
                    if (!budget.tryAcquire(BUDGET_WAIT_SECONDS, TimeUnit.SECONDS)) {
                        drain(in, declared);
                        throw new ApiError(ApiError.Kind.UNAVAILABLE, "busy", "webhook payloads being received "
                                + "fill the server's memory for them (4 x max_webhook_bytes); redeliver this one "
                                + "from the webhook's Recent Deliveries");
                    }
                    held++;
                    int n = in.readNBytes(chunk, 0, CHUNK);
                    buffer.write(chunk, 0, n);
                    if (buffer.size() > cap) {
                        throw tooLarge(in, declared);
                    }
                    if (n < CHUNK) {
                        return new HeldBody(buffer.toByteArray(), held, budget);
                    }
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                budget.release(held);
                throw new ApiError(ApiError.Kind.UNAVAILABLE, "busy", "the server is shutting down");
            } catch (IOException | RuntimeException | Error e) {
                budget.release(held);
                throw e;
            }
        }
    }

    /**
     * The 413, after reading and dropping what is left of the body, up to {@value #DRAIN_BYTES}
     * bytes past the limit. Answering while the client is still sending makes the server close a
     * connection with unread data, and the client's TCP stack then discards the 413 it had not read
     * yet (the client sees a reset or "no bytes", not the answer). A body declared larger than that
     * is not drained: its sender gets the closed connection.
     */
    private ApiError tooLarge(InputStream in, long declared) throws IOException {
        drain(in, declared);
        return tooLarge();
    }

    /** Reads and drops the rest of a body about to be refused, unless it is declared past the drain limit. */
    private void drain(InputStream in, long declared) throws IOException {
        long drain = maxBytes + DRAIN_BYTES;
        if (declared <= drain) {
            byte[] sink = new byte[64 * 1024];
            long left = drain;
            for (int n; left > 0 && (n = in.read(sink, 0, (int) Math.min(sink.length, left))) > 0; ) {
                left -= n;
            }
        }
    }

    private ApiError tooLarge() {
        return new ApiError(ApiError.Kind.TOO_LARGE, "payload_too_large", "webhook payload is larger than "
                + maxBytes + " bytes (" + (maxBytes % (1 << 20) == 0 ? (maxBytes >> 20) + " MiB, " : "")
                + "limit max_webhook_bytes, server flag --max-webhook-bytes)");
    }
}
