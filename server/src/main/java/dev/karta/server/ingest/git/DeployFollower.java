package dev.karta.server.ingest.git;

import dev.karta.api.LogEntry;
import dev.karta.server.deploys.DeployRecord;
import dev.karta.server.deploys.DeployStore;
import dev.karta.server.logs.LogStore;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;

/**
 * Waits for one deploy to end while handing each of its log lines to a consumer, oldest first:
 * what a push shows as {@code remote:} lines. Woken by the {@link dev.karta.server.logs.LogBus}
 * and polling as well (a build may run on another replica); after {@code heartbeat} without a
 * line it says the build is still going, which also keeps idle connections from timing out.
 */
final class DeployFollower {
    private static final long POLL_MS = 500;
    private static final int PAGE = 500;

    private final DeployStore deploys;
    private final LogStore logs;
    private final Duration heartbeat;

    DeployFollower(DeployStore deploys, LogStore logs, Duration heartbeat) {
        this.deploys = deploys;
        this.logs = logs;
        this.heartbeat = heartbeat;
    }

    /** Blocks until {@code deploy} ends; returns it ended, or empty when it is gone (project deleted). */
    Optional<DeployRecord> follow(DeployRecord deploy, Consumer<String> lines) throws InterruptedException {
        Semaphore wake = new Semaphore(0);
        AutoCloseable subscription = logs.bus().subscribe(deploy.projectId(), wake::release);
        try {
            long lastId = 0;
            long started = System.nanoTime();
            long lastLine = started;
            while (true) {
                // Status first: entries written together with the final status are then surely read below.
                Optional<DeployRecord> current = deploys.byId(deploy.id());
                List<LogEntry> page;
                do {
                    page = logs.ofDeploy(deploy.id(), lastId, PAGE);
                    for (LogEntry entry : page) {
                        lines.accept(entry.message());
                        lastId = entry.id();
                        lastLine = System.nanoTime();
                    }
                } while (page.size() == PAGE);
                if (current.isEmpty() || current.get().status().isTerminal()) {
                    return current;
                }
                wake.tryAcquire(POLL_MS, TimeUnit.MILLISECONDS);
                wake.drainPermits();
                long now = System.nanoTime();
                if (now - lastLine >= heartbeat.toNanos()) {
                    lines.accept("… still " + current.get().status().wireName() + " ("
                            + TimeUnit.NANOSECONDS.toSeconds(now - started) + "s)");
                    lastLine = now;
                }
            }
        } finally {
            try {
                subscription.close();
            } catch (Exception e) {
                throw new IllegalStateException("cannot unsubscribe from the log bus", e);
            }
        }
    }
}
