package dev.karta.server.ingest.git;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import dev.karta.server.Config;
import dev.karta.server.KartaServer;
import dev.karta.server.store.Database;
import dev.karta.server.testkit.GitRunner;
import dev.karta.server.testkit.TestServer;
import dev.karta.server.testkit.TestServer.Response;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.http.HttpRequest;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;

/**
 * Test support for the git door, on the test kit's {@link TestServer}: its HTTP calls, plus the
 * real {@code git} command run with its own HOME (no user or system config, no prompts).
 */
final class GitFixture implements AutoCloseable {
    final KartaServer server;
    final String adminKey;
    private final TestServer http;
    private final GitRunner git;

    private GitFixture(TestServer http, GitRunner git) {
        this.http = http;
        this.server = http.server();
        this.adminKey = http.adminKey();
        this.git = git;
    }

    static GitFixture start(Path dir) {
        return start(dir, List.of());
    }

    /** A server whose image builder (run for apps with a Dockerfile) is {@code builder}. */
    static GitFixture start(Path dir, List<String> builder) {
        Config config = TestServer.config(dir.resolve("data"), TestServer.randomKey()).toBuilder()
                .builderCommand(builder).build();
        GitRunner git = new GitRunner(dir.resolve("home"))
                .with("XDG_CONFIG_HOME", dir.resolve("home").resolve(".config").toString())
                .with("GIT_ASKPASS", "/bin/false");
        return new GitFixture(TestServer.start(config), git);
    }

    /**
     * One of several replicas on the PostgreSQL database {@code databaseUrl} with storage in the
     * database: its own data dir {@code dir/NAME}, the admin key {@code adminKey} they all share,
     * and git's HOME shared with the other replicas in {@code dir}.
     */
    static GitFixture replica(Path dir, String name, String databaseUrl, String adminKey, List<String> builder) {
        Config config = TestServer.config(dir.resolve(name), adminKey).toBuilder()
                .databaseUrl(databaseUrl)
                .storage(Config.Storage.DATABASE)
                .builderCommand(builder)
                .build();
        GitRunner git = new GitRunner(dir.resolve("home"))
                .with("XDG_CONFIG_HOME", dir.resolve("home").resolve(".config").toString())
                .with("GIT_ASKPASS", "/bin/false");
        return new GitFixture(TestServer.start(config), git);
    }

    /**
     * Skips a test that looks into the data dir (or the SQLite file) when the test kit runs servers
     * with storage in the database ({@code -Dkarta.test.storage=database}); GitReplicasTest checks
     * the same rules there.
     */
    // ---- HTTP ----

    String base() {
        return "http://127.0.0.1:" + server.port();
    }

    Response get(String path, String key) {
        return http.get(path, key);
    }

    Response post(String path, String key, String json) {
        return http.post(path, key, json);
    }

    Response delete(String path, String key) {
        return http.delete(path, key);
    }

    HttpRequest.Builder request(String path, String key) {
        return http.request(path, key);
    }

    Response send(HttpRequest.Builder request) {
        return http.send(request);
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
        return http.createOrg(name);
    }

    /** Raw SQL on the server's database, for what no route shows yet (the project log). */
    List<String> query(String sql, Object... args) {
        try (Database db = http.openDatabase()) {
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

    /** Runs {@code git ARGS} like {@link #git}, with {@code GIT_TRACE_PACKET} on: the protocol lines go to stderr. */
    GitRunner.Run gitTracingPackets(Path dir, String... args) {
        GitRunner traced = new GitRunner(git.home());
        git.env().forEach(traced::with);
        return traced.with("GIT_TRACE_PACKET", "1").run(dir, args);
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
        http.close();
    }
}
