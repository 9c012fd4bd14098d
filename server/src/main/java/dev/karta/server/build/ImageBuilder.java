package dev.karta.server.build;

import dev.karta.server.process.ProcessLauncher;
import java.io.IOException;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.Comparator;
import java.util.Deque;
import java.util.List;
import java.util.Map;

/**
 * Runs the configured image builder (an argv list, never a shell) for dockerfile and buildpack
 * releases, in the release tree, with {@code {context}}, {@code {image_ref}} and {@code {kind}}
 * substituted. It gets the launcher's base environment ({@code PATH}, {@code HOME},
 * {@code LANG}), never the server's: no {@code KARTA_*} secret reaches it; and the config vars
 * {@code karta.toml} asks for ({@code [build] env}), under the base environment. Its output goes to
 * the build log (at most {@link #MAX_OUTPUT_BYTES}), with the values of those vars (of at least
 * {@value #MIN_MASKED} characters) replaced by {@code ***}; a non-zero exit, a timeout or too much
 * output fails the build, and the builder is killed with every process it started.
 */
public final class ImageBuilder {
    /** Output past this is not a build log any more: the builder is stopped. */
    static final long MAX_OUTPUT_BYTES = 64L << 20;
    /** Shorter values are not masked in the build log: masking "1" would garble every number. */
    static final int MIN_MASKED = 4;

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

    void build(Tree tree, Detection detection, BuildLog log, Map<String, String> config)
            throws IOException, InterruptedException {
        List<String> secrets = config.values().stream().filter(v -> v.length() >= MIN_MASKED)
                .sorted(Comparator.comparingInt(String::length).reversed()).toList();
        List<String> argv = command.stream()
                .map(arg -> arg.replace("{context}", tree.dir().toString())
                        .replace("{image_ref}", detection.imageRef())
                        .replace("{kind}", detection.buildKind()))
                .toList();
        log.line("Running image builder: " + String.join(" ", argv));
        Deque<String> tail = new ArrayDeque<>();
        ProcessLauncher.Outcome outcome;
        try {
            outcome = launcher.run(new ProcessLauncher.Command(argv, tree.dir(), launcher.baseEnvironment(), config),
                    timeout, MAX_OUTPUT_BYTES, raw -> {
                        String line = mask(raw, secrets);
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

    /** {@code line} with every one of {@code secrets} (longest first) replaced by {@code ***}. */
    static String mask(String line, List<String> secrets) {
        String masked = line;
        for (String secret : secrets) {
            masked = masked.replace(secret, "***");
        }
        return masked;
    }
}
