package dev.karta.server.build;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.Deque;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * Runs the configured image builder (an argv list, never a shell) for dockerfile and buildpack
 * releases, in the release tree, with {@code {context}}, {@code {image_ref}} and {@code {kind}}
 * substituted. Its output goes to the build log; a non-zero exit or a timeout fails the build.
 */
public final class ImageBuilder {
    private final List<String> command;
    private final Duration timeout;

    public ImageBuilder(List<String> command, Duration timeout) {
        this.command = List.copyOf(command);
        this.timeout = timeout;
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
        Process process = new ProcessBuilder(argv).directory(tree.dir().toFile()).redirectErrorStream(true).start();
        Deque<String> tail = new ArrayDeque<>();
        Thread reader = new Thread(() -> {
            try (BufferedReader out = new BufferedReader(
                    new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8))) {
                String line;
                while ((line = out.readLine()) != null) {
                    log.line("builder: " + line);
                    synchronized (tail) {
                        tail.addLast(line);
                        if (tail.size() > 5) {
                            tail.removeFirst();
                        }
                    }
                }
            } catch (IOException e) {
                // The process ended or was killed; its exit status tells the outcome.
            }
        }, "image-builder-output");
        reader.setDaemon(true);
        reader.start();
        try {
            if (!process.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
                throw new BuildFailed("image builder timed out after " + timeout.toSeconds() + "s");
            }
        } finally {
            if (process.isAlive()) {
                // Parent first, so it cannot act on its children's deaths (a shell running the
                // next command); then the children it leaves behind.
                List<ProcessHandle> children = process.descendants().toList();
                process.destroyForcibly();
                children.forEach(ProcessHandle::destroyForcibly);
            }
        }
        reader.join(1000);
        if (process.exitValue() != 0) {
            String last;
            synchronized (tail) {
                last = String.join(" | ", tail);
            }
            throw new BuildFailed("image builder exited with status " + process.exitValue()
                    + (last.isEmpty() ? "" : ": " + last));
        }
    }
}
