package dev.karta.server.process;

import java.io.IOException;
import java.time.Duration;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.stream.Stream;

/**
 * A started child and everything it starts. {@link #process()} is the process the launcher
 * started: its pipes are the child's, its exit status is the child's (a wrapper such as
 * {@code unshare} passes both through). {@link #kill()} ends the whole tree.
 *
 * <p>Without a PID namespace, descendants are sampled while the child runs, because once a
 * process exits its orphans are re-parented and no longer show up as its descendants; an orphan
 * still holding a pipe would otherwise keep a reader waiting. Handles carry the process start
 * time, so a recycled pid is never killed by mistake.
 */
public final class Child {
    private static final long SAMPLE_MS = 200;
    /** How long {@link #kill()} waits for the processes it killed to be gone. */
    static final Duration DEATH_WAIT = Duration.ofSeconds(5);

    private final Process process;
    private final ProcessLauncher.Containment containment;
    private final String killExecutable;
    private final Set<ProcessHandle> seen = ConcurrentHashMap.newKeySet();
    private final ScheduledFuture<?> sampling;

    Child(Process process, ProcessLauncher.Containment containment, ScheduledExecutorService sampler,
          String killExecutable) {
        this.process = process;
        this.containment = containment;
        this.killExecutable = killExecutable;
        if (containment == ProcessLauncher.Containment.PROCESS_TREE) {
            this.sampling = sampler.scheduleWithFixedDelay(this::sample, SAMPLE_MS, SAMPLE_MS, TimeUnit.MILLISECONDS);
            // Orphans of an exited child that still hold its pipes: kill them.
            process.onExit().thenRun(this::killSeen);
        } else {
            // In a PID namespace the kernel kills the rest when the child (its first process) exits.
            this.sampling = null;
        }
    }

    public Process process() {
        return process;
    }

    private void sample() {
        process.descendants().forEach(seen::add);
    }

    private void killSeen() {
        sample();
        seen.forEach(ProcessHandle::destroyForcibly);
    }

    /**
     * Kills the child and everything it started, and waits (up to {@link #DEATH_WAIT}) until they
     * are gone: a caller may then touch the files they could write without a dying process racing
     * it. In a PID namespace the namespace's first process exits only after every other process of
     * it is reaped, so waiting for the processes seen covers those started since. Safe to call more
     * than once, and after it exited.
     */
    public void kill() {
        if (sampling != null) {
            sampling.cancel(false);
        }
        sample();
        if (containment == ProcessLauncher.Containment.PROCESS_TREE && process.isAlive()) {
            killGroup();
        }
        // The parent first, so it cannot act on its children's deaths (a shell running the next command).
        process.destroyForcibly();
        seen.forEach(ProcessHandle::destroyForcibly);
        long deadline = System.nanoTime() + DEATH_WAIT.toNanos();
        try {
            for (ProcessHandle handle : Stream.concat(Stream.of(process.toHandle()), seen.stream()).toList()) {
                long left = deadline - System.nanoTime();
                if (left <= 0) {
                    return;
                }
                handle.onExit().get(left, TimeUnit.NANOSECONDS);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (ExecutionException | TimeoutException e) {
            // Killed with SIGKILL: it dies; a caller that cannot wait longer goes on.
        }
    }

    /**
     * The child leads its own session and process group (setsid), so the group has its pid; it is
     * signalled only while the child lives, so the group id cannot have been reused.
     */
    private void killGroup() {
        if (killExecutable == null) {
            return;
        }
        try {
            ProcessBuilder builder = new ProcessBuilder(List.of(killExecutable, "-KILL", "--", "-" + process.pid()))
                    .redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.DISCARD);
            builder.environment().clear();
            builder.start().waitFor(2, TimeUnit.SECONDS);
        } catch (IOException e) {
            // Descendants seen are still killed one by one below.
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
