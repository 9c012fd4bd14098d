package dev.karta.server.sessions;

import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;

/**
 * A harness process and every descendant it has been seen to start. Descendants are sampled
 * while it runs because once the harness exits its orphans are re-parented and no longer show
 * up as its descendants; an orphan still holding stdout would otherwise keep the turn open.
 * Handles carry the process start time, so a recycled pid is never killed by mistake.
 */
final class ProcessTree {
    /** Each sample scans /proc (about 1 ms of CPU with a hundred processes), so not more often. */
    static final long SAMPLE_MS = 200;

    private final Process root;
    private final Set<ProcessHandle> seen = ConcurrentHashMap.newKeySet();
    private final ScheduledFuture<?> sampling;

    ProcessTree(Process root, ScheduledExecutorService ticker) {
        this.root = root;
        this.sampling = ticker.scheduleWithFixedDelay(this::sample, SAMPLE_MS, SAMPLE_MS, TimeUnit.MILLISECONDS);
    }

    private void sample() {
        root.descendants().forEach(seen::add);
    }

    /** Kills every descendant seen so far (the harness itself has exited, or is about to be killed). */
    void killDescendants() {
        sample();
        seen.forEach(ProcessHandle::destroyForcibly);
    }

    /** Stops sampling and kills the harness and every descendant seen. Safe to call more than once. */
    void kill() {
        sampling.cancel(false);
        sample();
        root.destroyForcibly();
        seen.forEach(ProcessHandle::destroyForcibly);
    }
}
