package dev.karta.server.logs;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.karta.server.Config;
import dev.karta.server.KartaServer;
import dev.karta.server.store.Database;
import dev.karta.server.testkit.TestDatabase;
import dev.karta.server.testkit.TestServer;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;

/**
 * The log tests' calls on the test kit's {@link TestServer} (port 0, SQLite in a temp dir, a
 * preset admin key), and their raw reads and writes of the log table.
 */
final class LogsHarness implements AutoCloseable {
    static final HttpClient HTTP = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
            .connectTimeout(Duration.ofSeconds(5)).build();
    static final ObjectMapper JSON = new ObjectMapper();

    final KartaServer server;
    final String adminKey;
    final Database db;
    private final TestServer http;

    private LogsHarness(TestServer http) {
        this.http = http;
        this.server = http.server();
        this.adminKey = http.adminKey();
        this.db = http.openDatabase();
    }

    static LogsHarness start(Path dataDir) {
        return start(dataDir, Config.Logs.DEFAULTS);
    }

    static LogsHarness start(Path dataDir, Config.Logs logs) {
        return start(dataDir, logs, Config.defaults(dataDir).keyCacheTtl());
    }

    static LogsHarness start(Path dataDir, Config.Logs logs, Duration keyCacheTtl) {
        return start(dataDir, logs, keyCacheTtl, "kt_live_" + UUID.randomUUID().toString().replace("-", ""));
    }

    private static final java.util.Map<Path, String> KEYS = new java.util.concurrent.ConcurrentHashMap<>();

    /** Starts a server again on a data dir a harness used before, with the same admin key. */
    static LogsHarness restart(Path dataDir, Config.Logs logs) {
        return start(dataDir, logs, Config.defaults(dataDir).keyCacheTtl(), KEYS.get(dataDir));
    }

    private static LogsHarness start(Path dataDir, Config.Logs logs, Duration keyCacheTtl, String key) {
        return start(TestDatabase.sqlite(), dataDir, logs, keyCacheTtl, key);
    }

    /** A server on {@code database} with the default key cache and a fresh admin key. */
    static LogsHarness start(TestDatabase database, Path dataDir, Config.Logs logs) {
        return start(database, dataDir, logs, Config.defaults(dataDir).keyCacheTtl(),
                "kt_live_" + UUID.randomUUID().toString().replace("-", ""));
    }

    private static LogsHarness start(TestDatabase database, Path dataDir, Config.Logs logs, Duration keyCacheTtl,
            String key) {
        KEYS.put(dataDir, key);
        Config config = database.config(dataDir, key).toBuilder().keyCacheTtl(keyCacheTtl).logs(logs).build();
        return new LogsHarness(TestServer.start(config));
    }

    static Config.Logs logs(Duration heartbeat, int streamBuffer) {
        Config.Logs d = Config.Logs.DEFAULTS;
        return new Config.Logs(d.retention(), d.maxEntries(), d.pruneEvery(), heartbeat, streamBuffer);
    }

    int port() {
        return server.port();
    }

    URI uri(String path) {
        return http.uri(path);
    }

    /** Creates a project with the admin key and returns its id. */
    String createProject(String name) {
        HttpResponse<String> created = post("/agent_projects", adminKey, "{\"name\":\"" + name + "\"}");
        if (created.statusCode() != 201) {
            throw new IllegalStateException("create project: " + created.statusCode() + " " + created.body());
        }
        return db.withHandle(h -> h.createQuery("SELECT id FROM projects WHERE name = :n")
                .bind("n", name).mapTo(String.class).one());
    }

    void append(String projectId, LogSource source, String message) {
        server.logs().append(projectId, source, null, null, message);
    }

    /** Sets the time of one entry (to place it in the past). */
    void backdate(long id, Duration age) {
        db.execute("UPDATE log_entries SET time = ? WHERE id = ?", System.currentTimeMillis() - age.toMillis(), id);
    }

    List<Long> ids(String projectId) {
        return db.withHandle(h -> h.createQuery("SELECT id FROM log_entries WHERE project_id = :p ORDER BY id")
                .bind("p", projectId).mapTo(Long.class).list());
    }

    String createKey(String scope) {
        HttpResponse<String> created = post("/api_keys", adminKey,
                "{\"name\":\"k" + UUID.randomUUID().toString().substring(0, 8) + "\",\"scopes\":[\"" + scope + "\"]}");
        return json(created).get("secret").asText();
    }

    /** Creates another org and returns its admin key. */
    String createOrg(String name) {
        return http.createOrg(name);
    }

    HttpResponse<String> get(String path, String key, String... headers) {
        HttpRequest.Builder request = HttpRequest.newBuilder(uri(path)).timeout(Duration.ofSeconds(30)).GET();
        if (key != null) {
            request.header("Authorization", "Bearer " + key);
        }
        for (int i = 0; i < headers.length; i += 2) {
            request.header(headers[i], headers[i + 1]);
        }
        return send(request);
    }

    HttpResponse<String> post(String path, String key, String body) {
        return send(HttpRequest.newBuilder(uri(path)).timeout(Duration.ofSeconds(30))
                .header("Authorization", "Bearer " + key)
                .header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString(body)));
    }

    static HttpResponse<String> send(HttpRequest.Builder request) {
        try {
            return HTTP.send(request.build(), HttpResponse.BodyHandlers.ofString());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }

    static JsonNode json(HttpResponse<String> response) {
        try {
            return JSON.readTree(response.body());
        } catch (IOException e) {
            throw new UncheckedIOException("not JSON (" + response.statusCode() + "): " + response.body(), e);
        }
    }

    /** The messages of a {@code {"entries":[…]}} answer, in order. */
    static List<String> messages(HttpResponse<String> response) {
        List<String> out = new ArrayList<>();
        json(response).get("entries").forEach(e -> out.add(e.get("message").asText()));
        return out;
    }

    @Override
    public void close() {
        db.close();
        http.close();
    }
}
