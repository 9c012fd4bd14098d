package dev.karta.server.build;

import dev.karta.server.process.ProcessLauncher;
import java.io.IOException;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.Deque;
import java.util.List;

/**
 * Runs the configured image builder (an argv list, never a shell) for dockerfile and buildpack
 * releases, in the release tree, with {@code {context}}, {@code {image_ref}} and {@code {kind}}
 * substituted. It gets the launcher's base environment only ({@code PATH}, {@code HOME},
 * {@code LANG}), never the server's: no {@code KARTA_*} secret reaches it. Its output goes to the
 * build log (at most {@link #MAX_OUTPUT_BYTES}); a non-zero exit, a timeout or too much output
 * fails the build, and the builder is killed with every process it started.
 */
public final class ImageBuilder {
    /** Output past this is not a build log any more: the builder is stopped. */
    static final long MAX_OUTPUT_BYTES = 64L << 20;

    private final List<String> command;
    private final Duration timeout;
    private final ProcessLauncher launcher;

    public ImageBuilder(List<String> command, Duration timeout, ProcessLauncher launcher) {
        this.command = List.copyOf(command);
        this.timeout = timeout;
        this.launcher = launcher;
    }

    public boolean isConfigured() {
        return !command.isEmpty();
    }

    void build(Tree tree, Detection detection, BuildLog log) throws IOException, InterruptedException {
        List<String> argv = command.stream()
                .map(arg -> arg.replace("{context}", tree.dir().toString())
                        .replace("{image_ref}", detection.imageRef())
                        .replace("{kind}", detection.buildKind()))
                .toList();
        log.line("Running image builder: " + String.join(" ", argv));
        Deque<String> tail = new ArrayDeque<>();
        ProcessLauncher.Outcome outcome;
        try {
            outcome = launcher.run(new ProcessLauncher.Command(argv, tree.dir(), launcher.baseEnvironment()), timeout,
                    MAX_OUTPUT_BYTES, line -> {
                        log.line("builder: " + line);
                        synchronized (tail) {
                            tail.addLast(line);
                            if (tail.size() > 5) {
                                tail.removeFirst();
                            }
                        }
                    });
        } catch (IOException e) {
            throw new BuildFailed("could not start the image builder: " + e.getMessage());
        }
        if (outcome.timedOut()) {
            throw new BuildFailed("image builder timed out after " + timeout.toSeconds() + "s");
        }
        if (outcome.overflowed()) {
            throw new BuildFailed("image builder printed more than " + MAX_OUTPUT_BYTES + " bytes; it was stopped");
        }
        if (outcome.exitCode() != 0) {
            String last;
            synchronized (tail) {
                last = String.join(" | ", tail);
            }
            throw new BuildFailed("image builder exited with status " + outcome.exitCode()
                    + (last.isEmpty() ? "" : ": " + last));
        }
    }
}
