package dev.karta.server.replicas;

import static org.awaitility.Awaitility.await;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

/**
 * A real haproxy in front of the replicas: round robin over every request, no stickiness, a
 * health check on each replica's readiness endpoint, and a retry on another replica when a
 * connection to a dead one is refused. Its statistics page says how many requests each replica
 * was given. Configured as {@code docs/scale-out.md} shows, with shorter check intervals.
 */
final class Balancer implements AutoCloseable {
    /** The readiness endpoint the balancer checks; {@code /healthz} is only liveness. */
    static final String READINESS = "/readyz";
    private static final HttpClient HTTP = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();

    final int port;
    final int statsPort;
    private final Path config;
    private final Path log;
    private final Process process;

    private Balancer(int port, int statsPort, Path config, Path log, Process process) {
        this.port = port;
        this.statsPort = statsPort;
        this.config = config;
        this.log = log;
        this.process = process;
    }

    /**
     * The haproxy executable, or a failure that says how to install it: the end-to-end test needs a
     * real balancer and must not pass by skipping itself where there is none.
     */
    static Path executable() {
        Stream<String> path = Stream.of(Optional.ofNullable(System.getenv("PATH")).orElse("").split(":"));
        return Stream.concat(path, Stream.of("/usr/sbin", "/usr/local/sbin", "/sbin"))
                .filter(dir -> !dir.isEmpty())
                .map(dir -> Path.of(dir, "haproxy"))
                .filter(Files::isExecutable)
                .findFirst()
                .orElseThrow(() -> new AssertionError("haproxy is not installed; the replicas' end-to-end test needs "
                        + "a real load balancer: apt-get install -y haproxy (CI's .ci/run installs it)"));
    }

    /** Starts haproxy on {@code port} in front of {@code replicas}, writing its files under {@code dir}. */
    static Balancer start(Path dir, int port, List<Replica> replicas) {
        int statsPort = Replica.freePort();
        StringBuilder text = new StringBuilder("""
                global
                    maxconn 4096
                defaults
                    mode http
                    option redispatch
                    retries 3
                    timeout connect 2s
                    timeout client 120s
                    timeout server 120s
                    timeout tunnel 1h
                frontend karta
                    bind 127.0.0.1:%d
                    default_backend replicas
                frontend stats
                    bind 127.0.0.1:%d
                    stats enable
                    stats uri /stats
                backend replicas
                    balance roundrobin
                    option httpchk GET %s
                    http-check expect status 200
                    default-server inter 300ms fall 2 rise 1
                """.formatted(port, statsPort, READINESS));
        for (Replica replica : replicas) {
            text.append("    server ").append(replica.name).append(" 127.0.0.1:").append(replica.port).append(" check\n");
        }
        try {
            Files.createDirectories(dir);
            Path config = dir.resolve("haproxy.cfg");
            Path log = dir.resolve("haproxy.log");
            Files.writeString(config, text);
            // -db: stay in the foreground, so that destroying the process stops the balancer.
            Process process = new ProcessBuilder(executable().toString(), "-db", "-f", config.toString())
                    .redirectErrorStream(true).redirectOutput(log.toFile())
                    .redirectInput(ProcessBuilder.Redirect.from(Path.of("/dev/null").toFile())).start();
            return new Balancer(port, statsPort, config, log, process);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Waits until every replica is up in the balancer's view (its health check passed). */
    void awaitAllUp(List<Replica> replicas, Duration patience) {
        try {
            await().atMost(patience).pollInterval(Duration.ofMillis(100))
                    .failFast("haproxy exited", () -> !process.isAlive())
                    .until(() -> replicas.stream().allMatch(r -> "UP".equals(serverStats().getOrDefault(r.name, Map.of())
                            .get("status"))));
        } catch (org.awaitility.core.ConditionTimeoutException | org.awaitility.core.TerminalFailureException e) {
            throw new AssertionError("haproxy does not see every replica ready on GET " + READINESS + " ("
                    + serverStats() + "): " + e.getMessage() + "\n" + logText(), e);
        }
    }

    /** Per replica (haproxy's server name), its statistics by column name: {@code status}, {@code lbtot}, … */
    Map<String, Map<String, String>> serverStats() {
        String csv;
        try {
            csv = HTTP.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + statsPort + "/stats;csv"))
                    .timeout(Duration.ofSeconds(5)).GET().build(), HttpResponse.BodyHandlers.ofString()).body();
        } catch (IOException e) {
            return Map.of();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
        String[] lines = csv.split("\n");
        if (lines.length == 0 || !lines[0].startsWith("# ")) {
            return Map.of();
        }
        String[] columns = lines[0].substring(2).split(",", -1);
        Map<String, Map<String, String>> servers = new HashMap<>();
        for (int i = 1; i < lines.length; i++) {
            String[] values = lines[i].split(",", -1);
            if (values.length < 2 || !values[0].equals("replicas") || values[1].equals("BACKEND")) {
                continue;
            }
            Map<String, String> row = new HashMap<>();
            for (int c = 0; c < Math.min(columns.length, values.length); c++) {
                row.put(columns[c], values[c]);
            }
            servers.put(values[1], row);
        }
        return servers;
    }

    /** Requests haproxy has sent to the replica named {@code name}. */
    long requestsTo(String name) {
        String total = serverStats().getOrDefault(name, Map.of()).get("lbtot");
        return total == null || total.isEmpty() ? 0 : Long.parseLong(total);
    }

    String logText() {
        try {
            return "haproxy config " + config + ":\n" + Files.readString(config) + "\nhaproxy output:\n"
                    + Files.readString(log);
        } catch (IOException e) {
            return "(no haproxy files: " + e + ")";
        }
    }

    @Override
    public void close() {
        process.destroy();
        try {
            if (!process.waitFor(5, TimeUnit.SECONDS)) {
                process.destroyForcibly();
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            process.destroyForcibly();
        }
    }
}
