package dev.karta.cli;

import java.io.PrintStream;
import java.time.Duration;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

/**
 * Ctrl-C for a command that runs until the user stops it ({@code karta logs --tail}), which then
 * ends with exit code 0. In the real process a JVM shutdown hook, present only while such a
 * command runs, calls the command's stop action, waits for it to finish printing, flushes
 * standard output and error, and halts the JVM with status 0 (left alone, a JVM stopped by
 * SIGINT exits 130). SIGTERM takes the same path: there is no supported way to tell them apart.
 * Tests build a {@link #simulated()} one and {@link #press()} it.
 */
final class CtrlC {
    /** How long a stopped command may take to finish before the process ends anyway. */
    private static final Duration GRACE = Duration.ofSeconds(3);

    private final boolean realProcess;
    private final List<PrintStream> streams;
    private final Set<Watch> watches = ConcurrentHashMap.newKeySet();

    private CtrlC(boolean realProcess, List<PrintStream> streams) {
        this.realProcess = realProcess;
        this.streams = streams;
    }

    /** Ctrl-C of this JVM; {@code streams} are flushed before it exits. */
    static CtrlC ofProcess(PrintStream... streams) {
        return new CtrlC(true, List.of(streams));
    }

    /** A Ctrl-C that only {@link #press()} triggers. */
    static CtrlC simulated() {
        return new CtrlC(false, List.of());
    }

    /**
     * Until the returned watch is closed, Ctrl-C runs {@code stop}, which must make the command
     * return soon (on another thread). Close the watch when the command is done, in a finally.
     */
    Watch watch(Runnable stop) {
        Watch watch = new Watch(stop);
        watches.add(watch);
        if (realProcess) {
            Runtime.getRuntime().addShutdownHook(watch.hook);
        }
        return watch;
    }

    /** What pressing Ctrl-C does, for tests: runs the stop action of every open watch. */
    void press() {
        watches.forEach(watch -> watch.stop.run());
    }

    /** One command listening for Ctrl-C. */
    final class Watch implements AutoCloseable {
        private final Runnable stop;
        private final CountDownLatch done = new CountDownLatch(1);
        private final Thread hook;

        private Watch(Runnable stop) {
            this.stop = stop;
            this.hook = new Thread(this::interrupted, "karta-ctrl-c");
        }

        private void interrupted() {
            stop.run();
            try {
                done.await(GRACE.toMillis(), TimeUnit.MILLISECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            streams.forEach(PrintStream::flush);
            // Runtime.exit would block for ever inside a shutdown hook; halt ends the JVM at once.
            Runtime.getRuntime().halt(0);
        }

        @Override
        public void close() {
            watches.remove(this);
            done.countDown();
            if (realProcess) {
                try {
                    Runtime.getRuntime().removeShutdownHook(hook);
                } catch (IllegalStateException shuttingDown) {
                    // Ctrl-C was pressed: the hook is running and ends the process now that we are done
                }
            }
        }
    }
}
