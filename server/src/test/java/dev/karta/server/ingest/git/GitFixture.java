package dev.karta.server.ingest.git;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.karta.server.Config;
import dev.karta.server.KartaServer;
import dev.karta.server.audit.AuditLog;
import dev.karta.server.keys.ApiKeys;
import dev.karta.server.orgs.Tenants;
import dev.karta.server.store.Database;
import dev.karta.server.testkit.GitRunner;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpHeaders;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.time.Duration;
import java.util.List;

/**
 * Test support for the git door: a real server on port 0 with SQLite in a temp folder and a preset
 * admin key, a real HTTP client, and the real {@code git} command run with its own HOME (no user
 * or system config, no prompts). Kept in this package: the shared TestServer is not on this branch.
 */
final class GitFixture implements AutoCloseable {
    private static final HttpClient HTTP = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
            .connectTimeout(Duration.ofSeconds(5)).build();
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final SecureRandom RANDOM = new SecureRandom();

    final KartaServer server;
    final String adminKey;
    private final GitRunner git;

    private GitFixture(KartaServer server, String adminKey, GitRunner git) {
        this.server = server;
        this.adminKey = adminKey;
        this.git = git;
    }

    static GitFixture start(Path dir) {
        return start(dir, List.of());
    }

    /** A server whose image builder (run for apps with a Dockerfile) is {@code builder}. */
    static GitFixture start(Path dir, List<String> builder) {
        String admin = randomKey();
        Config config = Config.builder(dir.resolve("data")).port(0).bootstrapKey(admin).builderCommand(builder).build();
        GitRunner git = new GitRunner(dir.resolve("home"))
                .with("XDG_CONFIG_HOME", dir.resolve("home").resolve(".config").toString())
                .with("GIT_ASKPASS", "/bin/false");
        return new GitFixture(KartaServer.start(config), admin, git);
    }

    static String randomKey() {
        String alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
        StringBuilder key = new StringBuilder("kt_live_");
        for (int i = 0; i < 32; i++) {
            key.append(alphabet.charAt(RANDOM.nextInt(alphabet.length())));
        }
        return key.toString();
    }

    // ---- HTTP ----

    record Response(int status, String body, HttpHeaders headers) {
        JsonNode json() {
            try {
                return JSON.readTree(body);
            } catch (IOException e) {
                throw new UncheckedIOException("not JSON (status " + status + "): " + body, e);
            }
        }

        String header(String name) {
            return headers.firstValue(name).orElse(null);
        }
    }

    String base() {
        return "http://127.0.0.1:" + server.port();
    }

    Response get(String path, String key) {
        return send(request(path, key).GET());
    }

    Response post(String path, String key, String json) {
        return send(request(path, key).header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString(json)));
    }

    Response delete(String path, String key) {
        return send(request(path, key).DELETE());
    }

    HttpRequest.Builder request(String path, String key) {
        HttpRequest.Builder builder = HttpRequest.newBuilder(URI.create(base() + path)).timeout(Duration.ofSeconds(60));
        if (key != null) {
            builder.header("Authorization", "Bearer " + key);
        }
        return builder;
    }

    Response send(HttpRequest.Builder request) {
        try {
            HttpResponse<String> r = HTTP.send(request.build(), HttpResponse.BodyHandlers.ofString());
            return new Response(r.statusCode(), r.body(), r.headers());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }

    /** A key of the default org: its secret and id. */
    record Key(String id, String secret) {
    }

    Key createKey(String name, String scope) {
        Response created = post("/api_keys", adminKey, "{\"name\":\"" + name + "\",\"scopes\":[\"" + scope + "\"]}");
        assertThat(created.status()).as(created.body()).isEqualTo(201);
        return new Key(created.json().get("api_key").get("id").asText(), created.json().get("secret").asText());
    }

    /** Creates another org, as {@code karta server create-org} does; returns its admin key. */
    String createOrg(String name) {
        try (Database db = Database.open(server.config().databaseUrl())) {
            AuditLog audit = new AuditLog(db);
            return new Tenants(db, new ApiKeys(db, audit, Duration.ZERO), audit).create(name, null).adminSecret();
        }
    }

    /** Raw SQL on the server's database, for what no route shows yet (the project log). */
    List<String> query(String sql, Object... args) {
        try (Database db = Database.open(server.config().databaseUrl())) {
            return db.withHandle(h -> h.select(sql, args).mapTo(String.class).list());
        }
    }

    JsonNode project(String name) {
        Response r = get("/agent_projects/" + name, adminKey);
        assertThat(r.status()).as(r.body()).isEqualTo(200);
        return r.json();
    }

    JsonNode releases(String name) {
        return get("/agent_projects/" + name + "/releases", adminKey).json().get("releases");
    }

    JsonNode deploys(String name) {
        return get("/agent_projects/" + name + "/deploys", adminKey).json().get("deploys");
    }

    JsonNode awaitDeployEnded(String project, String deployId) {
        JsonNode[] last = new JsonNode[1];
        await().atMost(Duration.ofSeconds(60)).until(() -> {
            last[0] = get("/agent_projects/" + project + "/deploys/" + deployId, adminKey).json();
            return !List.of("queued", "building").contains(last[0].get("status").asText());
        });
        return last[0];
    }

    // ---- git ----

    /** {@code http://x:KEY@127.0.0.1:PORT/git/NAME.git}, or without credentials when key is null. */
    String remote(String project, String key) {
        return "http://" + (key == null ? "" : "x:" + key + "@") + "127.0.0.1:" + server.port() + "/git/" + project
                + ".git";
    }

    /** Runs {@code git ARGS} in {@code dir} with an isolated HOME; never prompts. */
    GitRunner.Run git(Path dir, String... args) {
        return git.run(dir, args);
    }

    /** Starts {@code git ARGS} in {@code dir} with an isolated HOME, without waiting for it. */
    GitRunner.Running gitAsync(Path dir, String... args) {
        return git.start(dir, args);
    }

    /** A fresh working repository in {@code dir} holding a minimal Claude Code app, committed on main. */
    Path newApp(Path dir) {
        return git.newApp(dir);
    }

    /** Stages everything and commits; returns the new commit's full SHA. */
    String commitAll(Path dir, String message) {
        return git.commitAll(dir, message);
    }

    String head(Path dir) {
        return git.head(dir);
    }

    static void write(Path file, String text) {
        try {
            Files.createDirectories(file.getParent());
            Files.writeString(file, text);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    @Override
    public void close() {
        server.close();
    }
}
