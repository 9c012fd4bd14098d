package dev.karta.server.replicas;

import static org.awaitility.Awaitility.await;

import dev.karta.server.testkit.TestServer;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

/**
 * One {@code karta server} replica run as its own JVM, as {@code ./karta server} runs it (the
 * server's {@code Main} on the built classpath), on a port chosen before it starts so that a
 * balancer can be configured first and a killed replica can come back on the same address. Its
 * output goes to a log file in its folder; {@link #kill()} is a {@code kill -9}.
 */
final class Replica {
    private static final HttpClient HTTP = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();
    private static final Duration START_PATIENCE = Duration.ofSeconds(90);

    final String name;
    final int port;
    final Path dataDir;
    final Path log;
    private final List<String> flags;
    private final Map<String, String> environment;
    private volatile Process process;

    /**
     * A replica named {@code name} (its folder under {@code root} holds its data dir and log) that
     * starts with {@code flags} besides its own port and data dir, in {@code environment} only.
     */
    Replica(String name, Path root, List<String> flags, Map<String, String> environment) {
        this.name = name;
        this.port = freePort();
        this.dataDir = root.resolve(name).resolve("data");
        this.log = root.resolve(name).resolve("server.log");
        this.flags = List.copyOf(flags);
        this.environment = Map.copyOf(environment);
    }

    /** A TCP port on 127.0.0.1 that nothing listens on now. */
    static int freePort() {
        try (ServerSocket socket = new ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
            return socket.getLocalPort();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Starts the JVM without waiting for it to serve. */
    Replica start() {
        List<String> argv = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                // Three servers share two cores with the test: C1 only and a small serial heap keep
                // their start and footprint small; nothing here measures their speed.
                "-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC", "-Xmx384m",
                "-cp", System.getProperty("java.class.path"), "dev.karta.server.Main",
                "--bind", "127.0.0.1", "--port", Integer.toString(port), "--data-dir", dataDir.toString()));
        argv.addAll(flags);
        try {
            Files.createDirectories(dataDir);
            ProcessBuilder builder = new ProcessBuilder(argv).redirectErrorStream(true)
                    .redirectOutput(ProcessBuilder.Redirect.appendTo(log.toFile()))
                    .redirectInput(ProcessBuilder.Redirect.from(Path.of("/dev/null").toFile()));
            builder.environment().clear();
            builder.environment().putAll(environment);
            process = builder.start();
            return this;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Waits until the server answers its liveness check; fails with its log when it dies or takes too long. */
    Replica awaitLive() {
        try {
            await().atMost(START_PATIENCE).pollInterval(Duration.ofMillis(50))
                    .failFast(name + " exited", () -> !process.isAlive())
                    .until(() -> status("/healthz") == 200);
            return this;
        } catch (org.awaitility.core.ConditionTimeoutException | org.awaitility.core.TerminalFailureException e) {
            throw new AssertionError(name + " did not come up: " + e.getMessage() + "\n" + logTail(), e);
        }
    }

    /** The status of {@code GET path} on this replica, or -1 when nothing answers. */
    int status(String path) {
        try {
            return HTTP.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + path))
                    .timeout(Duration.ofSeconds(5)).GET().build(), HttpResponse.BodyHandlers.discarding()).statusCode();
        } catch (IOException e) {
            return -1;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }

    /** A client of this replica's API with {@code key}. */
    TestServer client(String key) {
        return TestServer.attach(port, key);
    }

    /** The git URL of {@code project} on this replica, the key as password. */
    String gitUrl(String project, String key) {
        return "http://git:" + key + "@127.0.0.1:" + port + "/git/" + project + ".git";
    }

    boolean alive() {
        return process != null && process.isAlive();
    }

    /** Whether a child process of this server (a builder, a harness) has {@code marker} in its command line. */
    boolean runsChildWith(String marker) {
        Process p = process;
        return p != null && p.descendants().anyMatch(child -> child.info().commandLine().orElse("").contains(marker));
    }

    /**
     * {@code kill -9}: the JVM dies without its shutdown hook, as on a crash or an OOM kill, and
     * so do the children it left (an orphaned builder would go on writing nothing anyone reads).
     */
    void kill() {
        Process p = process;
        if (p == null) {
            return;
        }
        List<ProcessHandle> children = p.descendants().toList();
        p.destroyForcibly();
        try {
            if (!p.waitFor(10, TimeUnit.SECONDS)) {
                throw new AssertionError(name + " did not die on SIGKILL");
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
        children.forEach(ProcessHandle::destroyForcibly);
    }

    /** Deletes everything in the data dir while the server runs: what an operator may do to a cache. */
    void wipeDataDir() {
        try (Stream<Path> all = Files.walk(dataDir)) {
            all.sorted(Comparator.reverseOrder()).filter(path -> !path.equals(dataDir)).forEach(path -> {
                try {
                    Files.deleteIfExists(path);
                } catch (IOException e) {
                    // A file the server is writing right now may come back or vanish under us.
                    if (!(e instanceof java.nio.file.DirectoryNotEmptyException)) {
                        throw new UncheckedIOException(e);
                    }
                }
            });
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** The last lines of the server's output, for failure messages. */
    String logTail() {
        try {
            List<String> lines = Files.readAllLines(log, StandardCharsets.UTF_8);
            return String.join("\n", lines.subList(Math.max(0, lines.size() - 40), lines.size()));
        } catch (IOException e) {
            return "(no log: " + e + ")";
        }
    }

    @Override
    public String toString() {
        return name + " (127.0.0.1:" + port + ")";
    }
}
