package dev.karta.server.builds;

import dev.karta.server.build.ArchiveRejected;
import dev.karta.server.build.BuildFailed;
import dev.karta.server.build.BuildLog;
import dev.karta.server.build.BuildPipeline;
import dev.karta.server.build.Detection;
import dev.karta.server.build.Tree;
import dev.karta.server.deploys.DeployRecord;
import dev.karta.server.deploys.DeployStatus;
import dev.karta.server.logs.LogStore;
import dev.karta.server.previews.Previews;
import dev.karta.server.releases.ReleaseRecord;
import dev.karta.server.releases.Releases;
import dev.karta.server.releases.Retention;
import dev.karta.server.store.Database;
import dev.karta.server.store.Threads;
import java.io.IOException;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The worker pool that runs queued builds: claim, obtain the tree, build, activate (a preview
 * build becomes its preview's next release instead; the project's pointer stays). Workers poll
 * the queue (so deploys accepted by other servers are picked up) and are woken at once for
 * deploys accepted here. A housekeeping thread renews the leases of running builds and recovers
 * builds whose server died (here or on another server). A build whose lease this server lost (it
 * could not renew in time, and another server took the deploy over) is given up like one past its
 * timeout, without ending the deploy.
 *
 * <p>The build timeout does not depend on the build noticing it: a thread can be stuck where
 * interrupts do not reach (a socket read). At the deadline housekeeping fails the deploy
 * ({@code build timed out after N}), stops renewing its lease, interrupts the thread (which kills
 * a running image builder), and starts a replacement worker, so the slot is free at once. Whatever
 * the abandoned thread produces later is discarded, and its deploy can no longer be activated
 * (activation requires it to be building); the thread then ends.
 */
public final class BuildWorkers implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(BuildWorkers.class);
    private static final long IDLE_POLL_MS = 1000;

    /**
     * A build in flight. Its end is decided once: by its worker when the build returns, or by
     * housekeeping at the deadline; whichever comes second changes nothing. So housekeeping never
     * interrupts a worker that has moved on to its next build, nor replaces one that goes on.
     */
    private static final class Running {
        private static final int BUILDING = 0;
        private static final int ENDED = 1;
        private static final int ABANDONED = 2;

        final DeployRecord deploy;
        final Thread thread;
        final long deadline;
        private final AtomicInteger state = new AtomicInteger(BUILDING);

        Running(DeployRecord deploy, Thread thread, long deadline) {
            this.deploy = deploy;
            this.thread = thread;
            this.deadline = deadline;
        }

        boolean abandoned() {
            return state.get() == ABANDONED;
        }

        /** The worker is done with it; false when housekeeping abandoned it first. */
        boolean end() {
            return state.compareAndSet(BUILDING, ENDED);
        }

        /** Housekeeping gives up on it; false when its worker was done with it first. */
        boolean abandon() {
            return state.compareAndSet(BUILDING, ABANDONED);
        }
    }

    private final BuildQueue queue;
    private final Sources sources;
    private final BuildPipeline pipeline;
    private final Releases releases;
    private final Previews previews;
    private final Retention retention;
    private final LogStore logs;
    private final int size;
    private final Duration timeout;
    private final Semaphore wakeups = new Semaphore(0);
    private final Map<String, Running> running = new ConcurrentHashMap<>();
    private final List<Thread> threads = new CopyOnWriteArrayList<>();
    private final AtomicInteger started = new AtomicInteger();
    private final ScheduledExecutorService housekeeping =
            Executors.newSingleThreadScheduledExecutor(Threads.daemon("build-housekeeping"));
    private volatile boolean closed;
    /**
     * Test seam: runs on the worker thread once a build has ended, before the worker takes the next
     * one, with the deploy id and what housekeeping does when that build's deadline passes.
     */
    volatile java.util.function.BiConsumer<String, Runnable> afterBuild = (deployId, timeOut) -> {
    };

    public BuildWorkers(BuildQueue queue, Sources sources, BuildPipeline pipeline, Releases releases,
                        Previews previews, Retention retention, LogStore logs, int size, Duration timeout) {
        this.previews = previews;
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
            startWorker();
        }
    }

    private void startWorker() {
        Thread t = new Thread(this::work, "build-worker-" + started.getAndIncrement());
        t.setDaemon(true);
        threads.add(t);
        t.start();
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
                    if (!build(next.get())) {
                        threads.remove(Thread.currentThread());
                        return; // abandoned at the timeout: a replacement worker has this slot
                    }
                } else {
                    wakeups.tryAcquire(IDLE_POLL_MS, TimeUnit.MILLISECONDS);
                    wakeups.drainPermits();
                }
            } catch (InterruptedException e) {
                if (closed) {
                    return;
                }
            } catch (RuntimeException e) {
                if (Database.isUnreachable(e)) {
                    LOG.warn("build worker: the database is unreachable ({}); retrying", e.toString());
                } else {
                    LOG.error("build worker error; continuing", e);
                }
                sleepQuietly();
            }
        }
    }

    /** Runs one build; false when it was abandoned at the timeout (this thread must then end). */
    private boolean build(DeployRecord deploy) {
        Running self = new Running(deploy, Thread.currentThread(), System.currentTimeMillis() + timeout.toMillis());
        running.put(deploy.id(), self);
        BuildLog log = new BuildLog(logs, deploy.projectId(), deploy.id());
        long started = System.nanoTime();
        try {
            log.line("Build started" + (deploy.attempts() > 1 ? " (attempt " + deploy.attempts() + ")" : ""));
            Tree tree = sources.treeOf(deploy, log);
            log.line("Tree " + tree.contentDigest() + (tree.files() < 0 ? "" : " (" + tree.files() + " files, "
                    + tree.bytes() + " bytes)"));
            Detection detection = pipeline.build(deploy.projectId(), deploy.projectName(), tree, log);
            if (self.abandoned()) {
                throw new InterruptedException("timed out");
            }
            log.line("Build finished in " + (System.nanoTime() - started) / 1_000_000 + " ms; activating");
            if (deploy.isPreview()) {
                previews.built(deploy, tree, detection);
                LOG.info("preview deploy {} of {} built", deploy.id(), deploy.projectName());
            } else {
                ReleaseRecord release = releases.activate(deploy, tree, detection);
                LOG.info("deploy {} of {} released {}", deploy.id(), deploy.projectName(), release.version());
                retention.prune(deploy.projectId());
            }
        } catch (RuntimeException | InterruptedException | IOException e) {
            if (self.abandoned()) {
                LOG.info("deploy {}: the build abandoned at its timeout ended ({}); its result is discarded",
                        deploy.id(), e.toString());
            } else {
                fail(deploy, e);
                if (deploy.isPreview() && !closed) {
                    previews.failed(deploy);
                }
            }
        } finally {
            running.remove(deploy.id(), self);
        }
        boolean keep = self.end();
        if (keep) {
            // Settled here: no timeout interrupt can come for this build any more; clear one that came.
            Thread.interrupted();
        }
        afterBuild.accept(deploy.id(), () -> abandon(self));
        return keep;
    }

    private void fail(DeployRecord deploy, Exception e) {
        if (e instanceof BuildFailed) {
            queue.finish(deploy, DeployStatus.FAILED, e.getMessage());
        } else if (e instanceof ArchiveRejected rejected) {
            queue.finish(deploy, DeployStatus.FAILED, rejected.getMessage() + " (" + rejected.rule() + ")");
        } else if (e instanceof InterruptedException || e instanceof IOException) {
            if (closed) {
                LOG.warn("deploy {} interrupted by shutdown; it will be recovered on the next start", deploy.id());
            } else {
                queue.finish(deploy, DeployStatus.FAILED, "could not read the source: " + e.getMessage());
            }
        } else {
            LOG.error("deploy {} failed unexpectedly", deploy.id(), e);
            queue.finish(deploy, DeployStatus.FAILED, "internal error while building: " + e);
        }
    }

    private void housekeep() {
        try {
            long now = System.currentTimeMillis();
            for (Running r : running.values()) {
                if (now > r.deadline) {
                    abandon(r);
                } else if (!queue.renew(r.deploy)) {
                    lose(r);
                }
            }
            queue.recover(false);
        } catch (RuntimeException e) {
            if (Database.isUnreachable(e)) {
                LOG.warn("build housekeeping: the database is unreachable ({}); will retry", e.toString());
            } else {
                LOG.error("build housekeeping failed; will retry", e);
            }
        }
    }

    /** Ends a build past its timeout without waiting for its thread; see the class comment. */
    private void abandon(Running r) {
        if (!r.abandon()) {
            return;
        }
        running.remove(r.deploy.id(), r);
        LOG.warn("deploy {} exceeded the build timeout of {}s; failing it and freeing its worker",
                r.deploy.id(), timeout.toSeconds());
        r.thread.interrupt();
        queue.finish(r.deploy, DeployStatus.FAILED, "build timed out after " + timeout.toSeconds() + "s");
        if (r.deploy.isPreview() && !closed) {
            previews.failed(r.deploy);
        }
        if (!closed) {
            startWorker();
        }
    }

    /**
     * Gives up a build whose lease this server no longer holds (its lease ran out while this server
     * could not renew it, and another server took the deploy over or queued it again): the thread is
     * interrupted and replaced like at the timeout, but the deploy is left to whoever owns it now.
     * A deploy that has ended is left alone: its worker may have just activated it and be tidying up.
     */
    private void lose(Running r) {
        if (!queue.ownedElsewhere(r.deploy) || !r.abandon()) {
            return;
        }
        running.remove(r.deploy.id(), r);
        LOG.warn("deploy {}: this server lost the build's lease (attempt {}); another server owns it now",
                r.deploy.id(), r.deploy.attempts());
        r.thread.interrupt();
        if (!closed) {
            startWorker();
        }
    }

    /** Worker threads this pool runs now (for tests). */
    int workerCount() {
        return threads.size();
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
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
        for (Thread t : threads) {
            try {
                t.join(Math.max(1, (deadline - System.nanoTime()) / 1_000_000));
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return;
            }
        }
    }
}
