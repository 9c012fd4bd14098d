package dev.karta.server.logs;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.karta.api.LogEntry;
import dev.karta.server.deploys.DeployRecord;
import io.javalin.http.sse.SseClient;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.function.UnaryOperator;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Streams one deploy's build log over SSE: every entry after {@code Last-Event-ID} (all of them
 * by default) as {@code event: log} with the entry id as SSE id, then live entries as they are
 * written, then {@code event: end} carrying the finished deploy, and the stream closes. Followers
 * are woken by the {@link LogBus} and polled every second (for writes of other servers);
 * heartbeat comments keep idle streams open through proxies.
 */
public final class DeployLogStream implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(DeployLogStream.class);
    private static final int PAGE = 500;
    private static final long HEARTBEAT_MS = 15_000;

    private final LogStore logs;
    private final ObjectMapper json;
    private final ExecutorService senders = Executors.newFixedThreadPool(2, daemon("deploy-log-sender"));
    private final ScheduledExecutorService ticker = Executors.newSingleThreadScheduledExecutor(daemon("deploy-log-tick"));
    private final Map<Follower, Boolean> followers = new ConcurrentHashMap<>();

    public DeployLogStream(LogStore logs, ObjectMapper json) {
        this.logs = logs;
        this.json = json;
        ticker.scheduleWithFixedDelay(() -> followers.keySet().forEach(Follower::wake), 1, 1, TimeUnit.SECONDS);
    }

    /** Starts following {@code deploy}; {@code refresh} re-reads it to learn when it has ended. */
    public void follow(SseClient client, DeployRecord deploy, UnaryOperator<DeployRecord> refresh) {
        client.keepAlive();
        Follower follower = new Follower(client, deploy, refresh, lastEventId(client));
        followers.put(follower, Boolean.TRUE);
        AutoCloseable subscription = logs.bus().subscribe(deploy.projectId(), follower::wake);
        client.onClose(() -> {
            followers.remove(follower);
            try {
                subscription.close();
            } catch (Exception e) {
                LOG.debug("unsubscribe failed", e);
            }
        });
        follower.wake();
    }

    private static long lastEventId(SseClient client) {
        String header = client.ctx().header("Last-Event-ID");
        try {
            return header == null ? 0 : Long.parseLong(header.trim());
        } catch (NumberFormatException e) {
            return 0;
        }
    }

    private final class Follower {
        private final SseClient client;
        private final UnaryOperator<DeployRecord> refresh;
        private DeployRecord deploy;
        private long lastId;
        private long lastSentAt = System.currentTimeMillis();
        private final Object sending = new Object();
        private boolean pending;
        private boolean done;

        Follower(SseClient client, DeployRecord deploy, UnaryOperator<DeployRecord> refresh, long lastId) {
            this.client = client;
            this.deploy = deploy;
            this.refresh = refresh;
            this.lastId = lastId;
        }

        /** Schedules one drain; wake-ups that arrive while one is pending merge into it. */
        void wake() {
            synchronized (this) {
                if (pending || done) {
                    return;
                }
                pending = true;
            }
            senders.execute(this::drain);
        }

        private void drain() {
            synchronized (this) {
                pending = false;
            }
            synchronized (sending) {
                drainSerially();
            }
        }

        private void drainSerially() {
            try {
                if (client.terminated()) {
                    finish();
                    return;
                }
                // Read the status first: entries written with the final status are then surely read below.
                DeployRecord current = refresh.apply(deploy);
                sendNewEntries();
                if (current.status().isTerminal()) {
                    client.sendEvent("end", json.writeValueAsString(current.toWire()), null);
                    finish();
                    client.close();
                    return;
                }
                deploy = current;
                if (System.currentTimeMillis() - lastSentAt > HEARTBEAT_MS) {
                    client.sendComment("ping");
                    lastSentAt = System.currentTimeMillis();
                }
            } catch (RuntimeException | JsonProcessingException e) {
                LOG.debug("deploy log stream of {} closed: {}", deploy.id(), e.toString());
                finish();
                client.close();
            }
        }

        private void sendNewEntries() throws JsonProcessingException {
            while (true) {
                List<LogEntry> page = logs.ofDeploy(deploy.id(), lastId, PAGE);
                for (LogEntry entry : page) {
                    client.sendEvent("log", json.writeValueAsString(entry), Long.toString(entry.id()));
                    lastId = entry.id();
                    lastSentAt = System.currentTimeMillis();
                }
                if (page.size() < PAGE) {
                    return;
                }
            }
        }

        private synchronized void finish() {
            done = true;
            followers.remove(this);
        }
    }

    private static java.util.concurrent.ThreadFactory daemon(String name) {
        return r -> {
            Thread t = new Thread(r, name);
            t.setDaemon(true);
            return t;
        };
    }

    @Override
    public void close() {
        ticker.shutdownNow();
        senders.shutdownNow();
    }
}
