package dev.karta.server.webhooks;

import dev.karta.server.Config;
import dev.karta.server.repos.Egress;
import dev.karta.server.store.Database;
import dev.karta.server.store.SecretBox;
import dev.karta.server.store.Threads;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.HttpURLConnection;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The delivery worker every server runs: it claims due deliveries (a lease in the database, rows
 * skipped with {@code SKIP LOCKED} on PostgreSQL, so each attempt is made by one server), sends
 * each as a signed POST and writes the outcome. At least once: a server that dies mid-attempt
 * leaves its claim to run out, and another server (or itself, restarted) sends again with the
 * same {@code webhook-id}.
 *
 * <p>An attempt is delivered when the endpoint answers 2xx within the timeout; redirects are not
 * followed and at most {@link #MAX_RESPONSE_BYTES} of the answer are read. A failed attempt is
 * retried after the next wait of {@link Config.Webhooks#retryDelays()} (the last one repeats);
 * when the next attempt would fall after the retry window, the delivery is given up and its
 * endpoint disabled, with the reason an admin sees on the endpoint. Connections go through
 * {@link Egress}: the host is resolved at delivery time, every address checked and the checked
 * address connected to, unless the operator allowed private webhooks.
 */
public final class Deliveries implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(Deliveries.class);
    static final int MAX_RESPONSE_BYTES = 4096;
    private static final int SENDERS = 4;
    /** Senders one org may hold at a time, counting its deliveries in flight on every server. */
    static final int SENDERS_PER_ORG = SENDERS / 2;
    static final String USER_AGENT = "Karta-Webhooks/1";
    /** How long finished deliveries (and their attempts and events) stay listed. */
    static final Duration HISTORY = Duration.ofDays(30);
    private static final Duration SWEEP_EVERY = Duration.ofHours(1);

    private final Database db;
    private final WebhookStore store = new WebhookStore();
    private final SecretBox secrets;
    private final Config.Webhooks settings;
    private final Egress egress;
    private final ScheduledExecutorService poller =
            Executors.newSingleThreadScheduledExecutor(Threads.daemon("karta-webhook-poller"));
    private final ExecutorService senders = Executors.newFixedThreadPool(SENDERS, Threads.daemon("karta-webhook-sender"));
    private final Semaphore free = new Semaphore(SENDERS);
    private final AtomicBoolean closed = new AtomicBoolean();

    public Deliveries(Database db, SecretBox secrets, Config.Webhooks settings) {
        this.db = db;
        this.secrets = secrets;
        this.settings = settings;
        this.egress = new Egress(List.of(), settings.timeout(), settings.timeout(), settings.timeout());
    }

    public void start() {
        poller.scheduleWithFixedDelay(this::poll, 0, settings.pollInterval().toMillis(), TimeUnit.MILLISECONDS);
        poller.scheduleWithFixedDelay(() -> {
            try {
                sweep(System.currentTimeMillis());
            } catch (RuntimeException e) {
                LOG.warn("could not sweep webhook delivery history: {}", e.toString());
            }
        }, 1, SWEEP_EVERY.toMinutes(), TimeUnit.MINUTES);
    }

    /** Deletes deliveries that finished more than {@link #HISTORY} before {@code now}; returns how many. */
    int sweep(long now) {
        return db.inTransaction(h -> store.sweep(h, now - HISTORY.toMillis()));
    }

    /** Looks for due deliveries now rather than at the next tick: after a commit that made some due. */
    public void wake() {
        if (closed.get()) {
            return;
        }
        try {
            poller.execute(this::poll);
        } catch (RejectedExecutionException e) {
            // closing
        }
    }

    private void poll() {
        if (closed.get()) {
            return;
        }
        int slots = free.availablePermits();
        if (slots == 0) {
            return;
        }
        try {
            long now = System.currentTimeMillis();
            List<WebhookStore.Due> due = db.inTransaction(h ->
                    store.claim(h, db.dialect(), now, now + settings.lease().toMillis(), slots,
                            SENDERS_PER_ORG));
            for (WebhookStore.Due d : due) {
                if (!free.tryAcquire()) {
                    break; // its lease runs out and it is claimed again
                }
                senders.execute(() -> {
                    try {
                        send(d);
                    } finally {
                        free.release();
                        wake();
                    }
                });
            }
        } catch (RuntimeException e) {
            LOG.warn("could not claim webhook deliveries: {}", e.toString());
        }
    }

    private void send(WebhookStore.Due due) {
        long started = System.currentTimeMillis();
        Integer code = null;
        String error = null;
        try {
            code = post(due, started);
        } catch (Refused e) {
            error = e.getMessage();
        } catch (RuntimeException e) {
            error = "internal error: " + e;
            LOG.warn("webhook delivery {} failed inside the server", due.id(), e);
        }
        if (code != null && (code < 200 || code > 299)) {
            error = "HTTP " + code + (code >= 300 && code < 400 ? " (redirects are not followed)" : "");
        }
        long finished = System.currentTimeMillis();
        boolean delivered = error == null;
        String status;
        Long next = null;
        String giveUp = null;
        if (delivered) {
            status = "delivered";
        } else {
            Duration wait = settings.retryDelays().get(Math.min(due.attempts(), settings.retryDelays().size() - 1));
            next = finished + wait.toMillis();
            if (next - due.dueSince() > settings.retryWindow().toMillis()) {
                status = "failed";
                next = null;
                giveUp = "delivery of event " + due.eventId() + " failed for " + human(settings.retryWindow())
                        + " (" + (due.attempts() + 1) + " attempts; the last: " + error + "); fix the endpoint, "
                        + "enable it again and retry the failed deliveries";
            } else {
                status = "pending";
            }
        }
        String reason = giveUp;
        Integer answered = code;
        String failure = error;
        Long nextAttempt = next;
        try {
            boolean written = db.inTransaction(h -> {
                boolean mine = store.finishAttempt(h, due, status, nextAttempt, answered, failure, started,
                        finished - started);
                if (mine && reason != null) {
                    store.disable(h, due.endpointId(), reason, finished);
                }
                return mine;
            });
            if (written && reason != null) {
                LOG.warn("webhook endpoint {} disabled: {}", due.endpointId(), reason);
            }
        } catch (RuntimeException e) {
            // The claim runs out and the delivery is attempted again.
            LOG.warn("could not record the outcome of webhook delivery {}: {}", due.id(), e.toString());
        }
    }

    /** A delivery attempt that got no HTTP answer; its message is what admins see. */
    private static final class Refused extends Exception {
        Refused(String message) {
            super(message);
        }
    }

    /** Sends one attempt; returns the HTTP status. */
    private int post(WebhookStore.Due due, long now) throws Refused {
        URI uri = URI.create(due.url());
        if (!settings.allowPrivate()) {
            if (!"https".equalsIgnoreCase(uri.getScheme())) {
                throw new Refused("refused: only https:// URLs are delivered to");
            }
            // For the message only: the relay checks again the address it connects to.
            String reason = Egress.refusedHost(uri.getHost());
            if (reason != null) {
                throw new Refused("refused: " + reason);
            }
        }
        long timestamp = now / 1000;
        String secret = secrets.open(due.secret());
        byte[] body = due.payload().getBytes(StandardCharsets.UTF_8);
        try (Egress.Fetch fetch = egress.begin(settings.timeout())) {
            try {
                HttpURLConnection c = fetch.open(uri, settings.allowPrivate());
                c.setInstanceFollowRedirects(false);
                c.setUseCaches(false);
                c.setRequestMethod("POST");
                c.setDoOutput(true);
                c.setFixedLengthStreamingMode(body.length);
                c.setRequestProperty("Content-Type", "application/json");
                c.setRequestProperty("User-Agent", USER_AGENT);
                c.setRequestProperty("Connection", "close");
                c.setRequestProperty("webhook-id", due.eventId());
                c.setRequestProperty("webhook-timestamp", Long.toString(timestamp));
                c.setRequestProperty("webhook-signature", Signatures.sign(secret, due.eventId(), timestamp,
                        due.payload()));
                try (OutputStream out = c.getOutputStream()) {
                    out.write(body);
                }
                int code = c.getResponseCode();
                InputStream in = code >= 400 ? c.getErrorStream() : c.getInputStream();
                if (in != null) {
                    try (in) {
                        in.readNBytes(MAX_RESPONSE_BYTES);
                    }
                }
                c.disconnect();
                return code;
            } catch (IOException e) {
                throw new Refused(fetch.timedOut() ? "no answer within " + human(settings.timeout())
                        : "could not connect or send the request (connection refused, reset or not allowed)");
            }
        }
    }

    private static String human(Duration d) {
        if (d.toDays() > 0 && d.equals(Duration.ofDays(d.toDays()))) {
            return d.toDays() + " days";
        }
        if (d.toHours() > 0 && d.equals(Duration.ofHours(d.toHours()))) {
            return d.toHours() + " h";
        }
        if (d.toSeconds() > 0 && d.equals(Duration.ofSeconds(d.toSeconds()))) {
            return d.toSeconds() + " s";
        }
        return d.toMillis() + " ms";
    }

    @Override
    public void close() {
        closed.set(true);
        poller.shutdownNow();
        senders.shutdownNow();
        try {
            senders.awaitTermination(5, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
