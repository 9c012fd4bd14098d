package dev.karta.server.process;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
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
     * are gone (exited; a zombie counts): a caller may then touch the files they could write
     * without a dying process racing it. In a PID namespace the namespace's first process exits only after every other process of
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
        List<ProcessHandle> killed = Stream.concat(Stream.of(process.toHandle()), seen.stream()).toList();
        try {
            while (!killed.stream().allMatch(Child::dead) && System.nanoTime() < deadline) {
                Thread.sleep(5);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /**
     * Whether a process is gone or a zombie: a zombie does nothing more, and one whose parent
     * never reaps it (an orphan handed to a lax init) would otherwise look alive for ever.
     */
    private static boolean dead(ProcessHandle handle) {
        if (!handle.isAlive()) {
            return true;
        }
        try {
            String stat = Files.readString(Path.of("/proc", Long.toString(handle.pid()), "stat"));
            int end = stat.lastIndexOf(')');
            char state = end >= 0 && end + 2 < stat.length() ? stat.charAt(end + 2) : '?';
            return state == 'Z' || state == 'X';
        } catch (IOException e) {
            return true; // no such process any more
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
