package dev.karta.server.repos;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import dev.karta.server.testkit.TarBuilder;
import java.io.IOException;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * GitHub's tarball API, played by two local HTTP servers on two host names: the API on
 * {@code 127.0.0.1} ({@code /repos/{o}/{r}/tarball/{sha}} answers 302 to the archive host,
 * {@code /repos/{o}/{r}/commits/{sha}} resolves abbreviations) and the archive host on
 * {@code localhost}, which serves a gzip tarball with one top folder {@code owner-repo-sha7/}, as
 * codeload.github.com does. Unknown SHAs are 404; private repositories are 404 without the right
 * bearer token. Every request's Authorization header is recorded with the host it went to.
 */
public final class FakeGitHub implements AutoCloseable {
    /** How the API answers for a repository, instead of its normal behaviour. */
    public enum Mode { NORMAL, UNAUTHORIZED, FORBIDDEN, RATE_LIMITED, FLAKY }

    /** One request the fake saw: which server, the path, and its Authorization header (or null). */
    public record Seen(String host, String path, String authorization) {
    }

    private final HttpServer api;
    private final HttpServer archives;
    private final Map<String, Map<String, byte[]>> repos = new ConcurrentHashMap<>();
    private final Map<String, String> privateTokens = new ConcurrentHashMap<>();
    private final Map<String, Mode> modes = new ConcurrentHashMap<>();
    private final Map<String, CountDownLatch> gates = new ConcurrentHashMap<>();
    private volatile CountDownLatch commitsGate = new CountDownLatch(0);
    private final List<Seen> seen = new CopyOnWriteArrayList<>();
    private final List<Status> statuses = new CopyOnWriteArrayList<>();

    /** A commit status posted to {@code POST /repos/{o}/{r}/statuses/{sha}}: the repository, the SHA, the body, the token. */
    public record Status(String fullName, String sha, String body, String authorization) {
    }

    /** The commit statuses posted so far, oldest first. */
    public List<Status> statuses() {
        return new ArrayList<>(statuses);
    }
    private final AtomicInteger flakyFailures = new AtomicInteger();

    private FakeGitHub() throws IOException {
        api = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
        archives = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
        api.createContext("/", this::api);
        archives.createContext("/", this::archive);
        api.setExecutor(Executors.newFixedThreadPool(4));
        archives.setExecutor(Executors.newFixedThreadPool(4));
        api.start();
        archives.start();
    }

    public static FakeGitHub start() {
        try {
            return new FakeGitHub();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** What {@code --github-api-url} points at. */
    public String apiUrl() {
        return "http://127.0.0.1:" + api.getAddress().getPort();
    }

    /** The archive host, on another host name than the API. */
    public String archiveUrl() {
        return "http://localhost:" + archives.getAddress().getPort();
    }

    /** Adds a commit whose tarball holds a Claude Code app saying {@code marker}; returns the app's files. */
    public FakeGitHub commit(String fullName, String sha, String marker) {
        String top = fullName.replace('/', '-') + "-" + sha.substring(0, 7) + "/";
        byte[] tarball = new TarBuilder()
                .dir(top)
                .file(top + "CLAUDE.md", "# " + marker + "\n")
                .dir(top + ".claude")
                .file(top + ".claude/settings.json", "{}\n")
                .build();
        return tarball(fullName, sha, tarball);
    }

    /** Adds a commit whose tarball is exactly {@code bytes}. */
    public FakeGitHub tarball(String fullName, String sha, byte[] bytes) {
        repos.computeIfAbsent(fullName, k -> new ConcurrentHashMap<>()).put(sha, bytes);
        return this;
    }

    /** Makes a repository private: only {@code Authorization: Bearer token} sees it. */
    public FakeGitHub makePrivate(String fullName, String token) {
        privateTokens.put(fullName, token);
        return this;
    }

    public FakeGitHub mode(String fullName, Mode mode) {
        modes.put(fullName, mode);
        return this;
    }

    /** With {@link Mode#FLAKY}: how many requests fail with a dropped connection before one succeeds. */
    public FakeGitHub failNext(int times) {
        flakyFailures.set(times);
        return this;
    }

    /** Holds the archive of {@code sha} until the returned latch is counted down. */
    public CountDownLatch gate(String sha) {
        CountDownLatch latch = new CountDownLatch(1);
        gates.put(sha, latch);
        return latch;
    }

    /** Holds every commits (SHA resolution) request until the returned latch is counted down. */
    public CountDownLatch holdCommits() {
        CountDownLatch latch = new CountDownLatch(1);
        commitsGate = latch;
        return latch;
    }

    public List<Seen> seen() {
        return new ArrayList<>(seen);
    }

    /** Authorization headers sent to the API host and to the archive host. */
    public List<String> authorizationsTo(String host) {
        return seen.stream().filter(s -> s.host().equals(host) && s.authorization() != null)
                .map(Seen::authorization).toList();
    }

    private void api(HttpExchange exchange) throws IOException {
        String path = exchange.getRequestURI().getPath();
        String auth = exchange.getRequestHeaders().getFirst("Authorization");
        seen.add(new Seen("api", path, auth));
        String[] parts = path.split("/");
        // /repos/{o}/{r}/tarball/{sha} or /repos/{o}/{r}/commits/{sha}
        if (parts.length != 6 || !parts[1].equals("repos")) {
            send(exchange, 404, "{\"message\":\"Not Found\"}", Map.of());
            return;
        }
        String fullName = parts[2] + "/" + parts[3];
        String sha = parts[5];
        if (parts[4].equals("statuses") && exchange.getRequestMethod().equals("POST")) {
            String body = new String(exchange.getRequestBody().readAllBytes(), java.nio.charset.StandardCharsets.UTF_8);
            statuses.add(new Status(fullName, sha, body, auth));
            send(exchange, 201, body, Map.of());
            return;
        }
        Mode mode = modes.getOrDefault(fullName, Mode.NORMAL);
        switch (mode) {
            case UNAUTHORIZED -> {
                send(exchange, 401, "{\"message\":\"Bad credentials\"}", Map.of());
                return;
            }
            case FORBIDDEN -> {
                send(exchange, 403, "{\"message\":\"Resource not accessible by integration\"}", Map.of());
                return;
            }
            case RATE_LIMITED -> {
                send(exchange, 403, "{\"message\":\"API rate limit exceeded for 127.0.0.1.\"}",
                        Map.of("x-ratelimit-remaining", "0", "x-ratelimit-reset", "1893456000"));
                return;
            }
            case FLAKY -> {
                if (flakyFailures.getAndUpdate(n -> Math.max(0, n - 1)) > 0) {
                    send(exchange, 502, "<html>Bad gateway</html>", Map.of());
                    return;
                }
            }
            case NORMAL -> {
            }
        }
        String token = privateTokens.get(fullName);
        Map<String, byte[]> commits = repos.get(fullName);
        if (commits == null || token != null && !("Bearer " + token).equals(auth)) {
            send(exchange, 404, "{\"message\":\"Not Found\"}", Map.of());
            return;
        }
        if (parts[4].equals("commits")) {
            try {
                commitsGate.await(60, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            List<String> matches = commits.keySet().stream().filter(s -> s.startsWith(sha.toLowerCase())).toList();
            if (matches.size() != 1) {
                send(exchange, 422, "{\"message\":\"No commit found for SHA: " + sha + "\"}", Map.of());
                return;
            }
            send(exchange, 200, "{\"sha\":\"" + matches.get(0) + "\",\"commit\":{\"message\":\"x\"}}", Map.of());
            return;
        }
        if (!parts[4].equals("tarball") || !commits.containsKey(sha)) {
            send(exchange, 404, "{\"message\":\"Not Found\"}", Map.of());
            return;
        }
        send(exchange, 302, "", Map.of("Location", archiveUrl() + "/" + fullName + "/legacy.tar.gz/" + sha));
    }

    private void archive(HttpExchange exchange) throws IOException {
        String path = exchange.getRequestURI().getPath();
        seen.add(new Seen("archive", path, exchange.getRequestHeaders().getFirst("Authorization")));
        String[] parts = path.split("/");
        // /{o}/{r}/legacy.tar.gz/{sha}
        byte[] tarball = parts.length == 5 ? repos.getOrDefault(parts[1] + "/" + parts[2], Map.of()).get(parts[4]) : null;
        if (tarball == null) {
            send(exchange, 404, "Not Found", Map.of());
            return;
        }
        CountDownLatch gate = gates.get(parts[4]);
        if (gate != null) {
            try {
                gate.await(60, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        exchange.getResponseHeaders().add("Content-Type", "application/x-gzip");
        exchange.sendResponseHeaders(200, tarball.length);
        try (OutputStream out = exchange.getResponseBody()) {
            out.write(tarball);
        }
    }

    private static void send(HttpExchange exchange, int status, String body, Map<String, String> headers)
            throws IOException {
        byte[] bytes = body.getBytes(StandardCharsets.UTF_8);
        headers.forEach((k, v) -> exchange.getResponseHeaders().add(k, v));
        if (!body.isEmpty() && body.startsWith("{")) {
            exchange.getResponseHeaders().add("Content-Type", "application/json");
        }
        exchange.sendResponseHeaders(status, bytes.length == 0 ? -1 : bytes.length);
        try (OutputStream out = exchange.getResponseBody()) {
            out.write(bytes);
        }
    }

    @Override
    public void close() {
        gates.values().forEach(CountDownLatch::countDown);
        commitsGate.countDown();
        api.stop(0);
        archives.stop(0);
        ((java.util.concurrent.ExecutorService) api.getExecutor()).shutdownNow();
        ((java.util.concurrent.ExecutorService) archives.getExecutor()).shutdownNow();
    }
}
