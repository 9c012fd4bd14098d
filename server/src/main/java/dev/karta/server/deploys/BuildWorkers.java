package dev.karta.server.deploys;

import dev.karta.server.build.ArchiveRejected;
import dev.karta.server.build.BuildFailed;
import dev.karta.server.build.BuildLog;
import dev.karta.server.build.BuildPipeline;
import dev.karta.server.build.Detection;
import dev.karta.server.build.Tree;
import dev.karta.server.ingest.Sources;
import dev.karta.server.logs.LogStore;
import dev.karta.server.releases.ReleaseRecord;
import dev.karta.server.releases.Releases;
import dev.karta.server.releases.Retention;
import java.io.IOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The worker pool that runs queued builds: claim, obtain the tree, build, activate. Workers poll
 * the queue (so deploys accepted by other servers are picked up) and are woken at once for
 * deploys accepted here. A housekeeping thread renews the leases of running builds, interrupts
 * builds past the timeout, and recovers builds whose server died.
 */
public final class BuildWorkers implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(BuildWorkers.class);
    private static final long IDLE_POLL_MS = 1000;

    private record Running(DeployRecord deploy, Thread thread, long deadline) {
    }

    private final BuildQueue queue;
    private final Sources sources;
    private final BuildPipeline pipeline;
    private final Releases releases;
    private final Retention retention;
    private final LogStore logs;
    private final int size;
    private final Duration timeout;
    private final Semaphore wakeups = new Semaphore(0);
    private final Map<String, Running> running = new ConcurrentHashMap<>();
    private final Map<String, Boolean> timedOut = new ConcurrentHashMap<>();
    private final List<Thread> threads = new ArrayList<>();
    private final ScheduledExecutorService housekeeping = Executors.newSingleThreadScheduledExecutor(r -> {
        Thread t = new Thread(r, "build-housekeeping");
        t.setDaemon(true);
        return t;
    });
    private volatile boolean closed;

    public BuildWorkers(BuildQueue queue, Sources sources, BuildPipeline pipeline, Releases releases,
                        Retention retention, LogStore logs, int size, Duration timeout) {
        this.queue = queue;
        this.sources = sources;
        this.pipeline = pipeline;
        this.releases = releases;
        this.retention = retention;
        this.logs = logs;
        this.size = size;
        this.timeout = timeout;
    }

    /**
     * Recovers interrupted builds and starts the workers. {@code recoverAll} treats every building
     * deploy as interrupted (SQLite: no other server can be building).
     */
    public void start(boolean recoverAll) {
        queue.recover(recoverAll);
        long tick = Math.max(200, queue.lease().toMillis() / 3);
        housekeeping.scheduleWithFixedDelay(this::housekeep, tick, tick, TimeUnit.MILLISECONDS);
        for (int i = 0; i < size; i++) {
            Thread t = new Thread(this::work, "build-worker-" + i);
            t.setDaemon(true);
            threads.add(t);
            t.start();
        }
    }

    /** Tells idle workers that a deploy was queued. */
    public void wake() {
        wakeups.release(size);
    }

    private void work() {
        while (!closed) {
            try {
                Optional<DeployRecord> next = queue.claimNext();
                if (next.isPresent()) {
                    build(next.get());
                } else {
                    wakeups.tryAcquire(IDLE_POLL_MS, TimeUnit.MILLISECONDS);
                    wakeups.drainPermits();
                }
            } catch (InterruptedException e) {
                if (closed) {
                    return;
                }
            } catch (RuntimeException e) {
                LOG.error("build worker error; continuing", e);
                sleepQuietly();
            }
        }
    }

    private void build(DeployRecord deploy) {
        running.put(deploy.id(), new Running(deploy, Thread.currentThread(), System.currentTimeMillis()
                + timeout.toMillis()));
        BuildLog log = new BuildLog(logs, deploy.projectId(), deploy.id());
        long started = System.nanoTime();
        try {
            log.line("Build started" + (deploy.attempts() > 1 ? " (attempt " + deploy.attempts() + ")" : ""));
            Tree tree = sources.treeOf(deploy, log);
            log.line("Tree " + tree.contentDigest() + (tree.files() < 0 ? "" : " (" + tree.files() + " files, "
                    + tree.bytes() + " bytes)"));
            Detection detection = pipeline.build(deploy.projectName(), tree, log);
            checkNotTimedOut(deploy);
            log.line("Build finished in " + (System.nanoTime() - started) / 1_000_000 + " ms; activating");
            ReleaseRecord release = releases.activate(deploy, tree, detection);
            LOG.info("deploy {} of {} released {}", deploy.id(), deploy.projectName(), release.version());
            retention.prune(deploy.projectId());
        } catch (BuildFailed e) {
            queue.finish(deploy, DeployStatus.FAILED, e.getMessage());
        } catch (ArchiveRejected e) {
            queue.finish(deploy, DeployStatus.FAILED, e.getMessage() + " (" + e.rule() + ")");
        } catch (InterruptedException | IOException e) {
            if (timedOut.containsKey(deploy.id())) {
                queue.finish(deploy, DeployStatus.FAILED, "build timed out after " + timeout.toSeconds() + "s");
            } else if (closed) {
                LOG.warn("deploy {} interrupted by shutdown; it will be recovered on the next start", deploy.id());
            } else {
                queue.finish(deploy, DeployStatus.FAILED, "could not read the source: " + e.getMessage());
            }
        } catch (RuntimeException e) {
            LOG.error("deploy {} failed unexpectedly", deploy.id(), e);
            queue.finish(deploy, DeployStatus.FAILED, "internal error while building: " + e);
        } finally {
            running.remove(deploy.id());
            timedOut.remove(deploy.id());
            Thread.interrupted();
        }
    }

    private void checkNotTimedOut(DeployRecord deploy) throws InterruptedException {
        if (timedOut.containsKey(deploy.id()) || Thread.currentThread().isInterrupted()) {
            throw new InterruptedException("timed out");
        }
    }

    private void housekeep() {
        try {
            long now = System.currentTimeMillis();
            for (Running r : running.values()) {
                queue.renew(r.deploy().id());
                if (now > r.deadline() && timedOut.putIfAbsent(r.deploy().id(), Boolean.TRUE) == null) {
                    LOG.warn("deploy {} exceeded the build timeout; interrupting", r.deploy().id());
                    r.thread().interrupt();
                }
            }
            queue.recover(false);
        } catch (RuntimeException e) {
            LOG.error("build housekeeping failed; will retry", e);
        }
    }

    private static void sleepQuietly() {
        try {
            Thread.sleep(IDLE_POLL_MS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /** Stops taking work; builds in flight are left for recovery on the next start. */
    @Override
    public void close() {
        closed = true;
        housekeeping.shutdownNow();
        threads.forEach(Thread::interrupt);
        for (Thread t : threads) {
            try {
                t.join(5000);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return;
            }
        }
    }
}
