package dev.karta.server.testkit;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.karta.server.Config;
import dev.karta.server.KartaServer;
import dev.karta.server.audit.AuditLog;
import dev.karta.server.keys.ApiKeys;
import dev.karta.server.orgs.Tenants;
import dev.karta.server.store.Database;
import dev.karta.server.store.Dialect;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpHeaders;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import org.junit.jupiter.api.Assumptions;

/**
 * A real Karta server for tests: SQLite in a caller-owned data directory, port 0 on 127.0.0.1, a
 * preset admin key so tests know it, and a real {@link HttpClient}. Closing it stops the server.
 */
public final class TestServer implements AutoCloseable {
    private static final HttpClient HTTP = HttpClient.newBuilder()
            .version(HttpClient.Version.HTTP_1_1)
            .connectTimeout(Duration.ofSeconds(5))
            .build();
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final char[] ALPHANUMERIC =
            "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789".toCharArray();
    private static final SecureRandom RANDOM = new SecureRandom();

    private final KartaServer server;
    private final int port;
    private final String adminKey;

    private TestServer(KartaServer server, int port, String adminKey) {
        this.server = server;
        this.port = port;
        this.adminKey = adminKey;
    }

    /** A client for a server running elsewhere (another process) on {@code port}; closing it stops nothing. */
    public static TestServer attach(int port, String adminKey) {
        return new TestServer(null, port, adminKey);
    }

    /** Starts a server on port 0 in {@code dataDir} whose default org's admin key is a fresh preset one. */
    public static TestServer start(Path dataDir) {
        return start(config(dataDir, randomKey()));
    }

    /**
     * Starts a server with {@code config}. Its admin key is the preset bootstrap key, or the one
     * generated on this start, or null when the database had been bootstrapped before.
     */
    public static TestServer start(Config config) {
        config = onStorageUnderTest(config);
        KartaServer server = KartaServer.start(config);
        String admin = config.bootstrapKey() != null
                ? config.bootstrapKey()
                : server.bootstrapped().map(Tenants.NewOrg::adminSecret).orElse(null);
        return new TestServer(server, server.port(), admin);
    }

    /**
     * With {@code -Dkarta.test.storage=database}, a server the test kit would start on SQLite starts
     * on PostgreSQL with {@code --storage database} instead (one database per data dir, on an
     * embedded server of the run), so that existing tests run once on that storage:
     * {@code mvn -pl server -am test -Dkarta.test.storage=database -Dtest='Git*Test'}.
     */
    private static Config onStorageUnderTest(Config config) {
        if (!"database".equals(System.getProperty("karta.test.storage"))
                || Dialect.of(config.databaseUrl()) != Dialect.SQLITE) {
            return config;
        }
        String url = STORAGE_UNDER_TEST.computeIfAbsent(config.dataDir().toAbsolutePath(),
                dir -> PostgresExtension.freshDatabaseOfTheRun().url());
        return config.toBuilder().databaseUrl(url).storage(Config.Storage.DATABASE).build();
    }

    private static final Map<Path, String> STORAGE_UNDER_TEST = new ConcurrentHashMap<>();

    /** Skips a test that looks into the data dir's repositories: with storage in the database it holds none. */
    public static void assumeDataDirStorage() {
        Assumptions.assumeFalse("database".equals(System.getProperty("karta.test.storage")),
                "looks into the data dir, which holds no repository with storage in the database");
    }

    /** The defaults for {@code dataDir}, on port 0, with {@code bootstrapKey} (may be null). */
    public static Config config(Path dataDir, String bootstrapKey) {
        return Config.builder(dataDir).port(0).bootstrapKey(bootstrapKey).build();
    }

    /** A well-formed key ({@code kt_live_} and 32 letters or digits) that no server has issued. */
    public static String randomKey() {
        StringBuilder key = new StringBuilder("kt_live_");
        for (int i = 0; i < 32; i++) {
            key.append(ALPHANUMERIC[RANDOM.nextInt(ALPHANUMERIC.length)]);
        }
        return key.toString();
    }

    /** One HTTP answer, its body read as text. */
    public record Response(int status, String body, HttpHeaders headers) {
        public JsonNode json() {
            try {
                return JSON.readTree(body);
            } catch (IOException e) {
                throw new UncheckedIOException("not JSON (status " + status + "): " + body, e);
            }
        }

        /** The first value of a response header, or null. */
        public String header(String name) {
            return headers.firstValue(name).orElse(null);
        }
    }

    public KartaServer server() {
        return server;
    }

    public String adminKey() {
        return adminKey;
    }

    public int port() {
        return port;
    }

    public URI uri(String path) {
        return URI.create("http://127.0.0.1:" + port + path);
    }

    public Response get(String path, String key) {
        return send(request(path, key).GET());
    }

    public Response post(String path, String key, String json) {
        return send(request(path, key)
                .header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString(json)));
    }

    public Response patch(String path, String key, String json) {
        return send(request(path, key)
                .header("Content-Type", "application/json")
                .method("PATCH", HttpRequest.BodyPublishers.ofString(json)));
    }

    public Response delete(String path, String key) {
        return send(request(path, key).DELETE());
    }

    /** A request builder for {@code path}, with a Bearer key when {@code key} is not null. */
    public HttpRequest.Builder request(String path, String key) {
        HttpRequest.Builder builder = HttpRequest.newBuilder(uri(path)).timeout(Duration.ofSeconds(60));
        if (key != null) {
            builder.header("Authorization", "Bearer " + key);
        }
        return builder;
    }

    public Response send(HttpRequest.Builder request) {
        try {
            HttpResponse<String> response = HTTP.send(request.build(), HttpResponse.BodyHandlers.ofString());
            return new Response(response.statusCode(), response.body(), response.headers());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }

    /** Creates a key of the default org with one scope ("read", "write" or "admin") and returns its secret. */
    public String createKey(String name, String scope) {
        Response created = post("/api_keys", adminKey,
                "{\"name\":\"" + name + "\",\"scopes\":[\"" + scope + "\"]}");
        if (created.status() != 201) {
            throw new IllegalStateException("creating key " + name + " answered " + created.status() + ": "
                    + created.body());
        }
        return created.json().get("secret").asText();
    }

    /** Creates another org, as {@code karta server create-org} does, and returns its admin key. */
    public String createOrg(String name) {
        try (Database db = openDatabase()) {
            AuditLog audit = new AuditLog(db);
            return new Tenants(db, new ApiKeys(db, audit, Duration.ZERO), audit).create(name, null).adminSecret();
        }
    }

    /** A second connection pool on the server's database, for raw SQL; the caller closes it. */
    public Database openDatabase() {
        return Database.open(server.config().databaseUrl());
    }

    @Override
    public void close() {
        if (server != null) {
            server.close();
        }
    }
}
