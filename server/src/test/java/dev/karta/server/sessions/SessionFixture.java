package dev.karta.server.sessions;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.karta.server.Config;
import dev.karta.server.process.Sandbox;
import dev.karta.server.testkit.TestServer;
import dev.karta.server.testkit.TestServer.Response;
import dev.karta.server.process.LiveProcesses;
import dev.karta.server.testkit.TarBuilder;
import dev.karta.server.testkit.TestDatabase;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.http.HttpRequest;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.UnaryOperator;

/**
 * A real server whose harness executables are the {@link FakeHarness} scripts, with write and
 * read keys, and the steps the session tests repeat: publish through the real upload route and
 * wait for the release, roll back, open sessions, send messages.
 */
final class SessionFixture implements AutoCloseable {
    static final Duration PATIENCE = Duration.ofSeconds(30);
    private static final ObjectMapper JSON = new ObjectMapper();

    final TestServer server;
    final Path spy;
    final Path claude;
    final Path opencode;
    final String admin;
    final String writer;
    final String reader;

    private SessionFixture(TestServer server, Path spy, Path claude, Path opencode) {
        this.server = server;
        this.spy = spy;
        this.claude = claude;
        this.opencode = opencode;
        this.admin = server.adminKey();
        this.writer = server.createKey("writer", "write");
        this.reader = server.createKey("reader", "read");
    }

    static SessionFixture start(Path dir) {
        return start(dir, settings -> settings, 0);
    }

    /** A server in {@code dir} whose session settings are the test defaults changed by {@code tweak}. */
    static SessionFixture start(Path dir, UnaryOperator<Config.SessionSettings> tweak, int keepReleases) {
        return start(dir, tweak, keepReleases, UNSANDBOXED);
    }

    /**
     * Without the sandbox: the fake harnesses write their spy files outside their workspace.
     * {@code SandboxedSessionTest} runs turns in the sandbox.
     */
    static final Sandbox.Settings UNSANDBOXED = new Sandbox.Settings(Sandbox.Mode.NONE, null, List.of());

    static SessionFixture start(Path dir, UnaryOperator<Config.SessionSettings> tweak, int keepReleases,
                                Sandbox.Settings sandbox) {
        return start(dir, TestDatabase.sqlite(), tweak, keepReleases, sandbox);
    }

    /** A server in {@code dir} on {@code database}, with the test defaults. */
    static SessionFixture start(Path dir, TestDatabase database) {
        return start(dir, database, settings -> settings, 0, UNSANDBOXED);
    }

    private static SessionFixture start(Path dir, TestDatabase database, UnaryOperator<Config.SessionSettings> tweak,
                                        int keepReleases, Sandbox.Settings sandbox) {
        Path spy = dir.resolve("spy");
        Path claude = FakeHarness.claude(dir.resolve("bin"), spy);
        Path opencode = FakeHarness.opencode(dir.resolve("bin"), spy);
        Config.SessionSettings settings = tweak.apply(new Config.SessionSettings(claude.toString(), opencode.toString(),
                Duration.ofMinutes(10), Duration.ofSeconds(20), 16, 100_000, 1L << 20,
                FakeHarness.environment(dir.resolve("home"))));
        Config config = database.config(dir.resolve("data"), TestServer.randomKey()).toBuilder()
                .keepReleases(keepReleases).sessions(settings).sandbox(sandbox).build();
        return new SessionFixture(TestServer.start(config), spy, claude, opencode);
    }

    /** A server started from {@code config} as it is; the harnesses are the executables it names. */
    static SessionFixture start(Config config, Path spy) {
        return new SessionFixture(TestServer.start(config), spy, Path.of(config.sessions().claudeExecutable()),
                Path.of(config.sessions().opencodeExecutable()));
    }

    /** Settings with another field; records have no withers. */
    static Config.SessionSettings with(Config.SessionSettings s, String claude, Duration idle, Duration turn,
                                       int maxTurns, long maxOutput) {
        return new Config.SessionSettings(claude, s.opencodeExecutable(), idle, turn, maxTurns, s.maxMessageBytes(),
                maxOutput, s.harnessEnvironment());
    }

    /** A Claude Code app whose fake harness answers {@code answer}. */
    static Map<String, String> claudeApp(String answer) {
        return Map.of("CLAUDE.md", "# test app\n", "answer.txt", answer + "\n");
    }

    /** An OpenCode app whose fake harness answers {@code answer}. */
    static Map<String, String> opencodeApp(String answer) {
        return Map.of(".opencode/agent/helper.md", "helper\n", "answer.txt", answer + "\n");
    }

    /** Publishes {@code files} through {@code POST …/releases} and waits for the release to be active. */
    String publish(String project, Map<String, String> files) {
        return publish(project, TarBuilder.files(files));
    }

    /** Publishes a {@code .tar.gz} through {@code POST …/releases} and waits for the release to be active. */
    String publish(String project, byte[] archive) {
        Response accepted = server.send(server.request("/agent_projects/" + project + "/releases", writer)
                .header("Content-Type", "application/gzip")
                .POST(HttpRequest.BodyPublishers.ofByteArray(archive)));
        assertThat(accepted.status()).as(accepted.body()).isEqualTo(202);
        String deploy = accepted.json().get("id").asText();
        AtomicReference<JsonNode> finished = new AtomicReference<>();
        await().atMost(PATIENCE).pollInterval(Duration.ofMillis(20)).until(() -> {
            JsonNode d = server.get("/agent_projects/" + project + "/deploys/" + deploy, reader).json();
            finished.set(d);
            return !d.get("status").asText().matches("queued|building");
        });
        assertThat(finished.get().get("status").asText()).as(finished.get().toString()).isEqualTo("succeeded");
        String version = finished.get().get("release").asText();
        assertThat(currentVersion(project)).isEqualTo(version);
        return version;
    }

    String currentVersion(String project) {
        JsonNode current = server.get("/agent_projects/" + project, reader).json().get("current_release");
        return current.isNull() ? null : current.get("version").asText();
    }

    void rollback(String project, String version) {
        Response r = server.post("/agent_projects/" + project + "/rollback", admin, "{\"to\":\"" + version + "\"}");
        assertThat(r.status()).as(r.body()).isEqualTo(200);
        assertThat(currentVersion(project)).isEqualTo(version);
    }

    Response createSession(String project, String key) {
        return server.post("/v1/projects/" + project + "/sessions", key, "{}");
    }

    /** Opens a session and returns its id. */
    String open(String project) {
        Response created = createSession(project, writer);
        assertThat(created.status()).as(created.body()).isEqualTo(201);
        return created.json().get("id").asText();
    }

    Response session(String project, String id) {
        return server.get("/v1/projects/" + project + "/sessions/" + id, reader);
    }

    Response message(String project, String id, String text) {
        return message(project, id, text, writer);
    }

    Response message(String project, String id, String text, String key) {
        return server.post("/v1/projects/" + project + "/sessions/" + id + "/messages", key,
                "{\"text\":" + quote(text) + "}");
    }

    /** Sends a message and returns the reply text, failing on anything but 200. */
    String ask(String project, String id, String text) {
        Response r = message(project, id, text);
        assertThat(r.status()).as(r.body()).isEqualTo(200);
        return r.json().at("/message/text").asText();
    }

    /** A streamed message: the whole SSE body once the server closes it. */
    Response stream(String project, String id, String text, boolean viaAcceptHeader) {
        String body = viaAcceptHeader ? "{\"text\":" + quote(text) + "}" : "{\"text\":" + quote(text) + ",\"stream\":true}";
        HttpRequest.Builder request = server.request("/v1/projects/" + project + "/sessions/" + id + "/messages", writer)
                .header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString(body));
        if (viaAcceptHeader) {
            request.header("Accept", "text/event-stream");
        }
        return server.send(request);
    }

    /** Waits until the fake harness reached {@code wait:NAME}, i.e. the turn is running. */
    void awaitWaiting(String name) {
        await().atMost(PATIENCE).until(() -> Files.exists(spy.resolve("waiting." + name)));
    }

    /** Lets every fake waiting on {@code wait:NAME} answer. */
    void release(String name) {
        try {
            Files.writeString(spy.resolve(name), "go");
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** A pid a fake harness wrote to the spy directory. */
    long pid(String name) {
        Path file = spy.resolve(name);
        await().atMost(PATIENCE).until(() -> Files.exists(file));
        try {
            return Long.parseLong(Files.readString(file).trim());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** What a fake harness wrote to the spy directory. */
    String spyFile(String name) {
        try {
            return Files.readString(spy.resolve(name));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /**
     * Whether a child the fake harness started ({@code hang}, {@code orphan}) still runs. Found by
     * the marker in its argv: harnesses run in their own PID namespace, so the pids they record
     * are not the server's.
     */
    boolean childRunning() {
        return LiveProcesses.anyWith(spy.resolve("child").toString());
    }

    /** Whether a fake claude of this fixture still runs (zombies do not count). */
    boolean claudeRunning() {
        return LiveProcesses.anyWith(claude.toString());
    }

    /** The session entries of a project's log, oldest first, read from the database. */
    List<String> sessionLog(String project) {
        try (var db = server.openDatabase()) {
            return db.withHandle(h -> h.createQuery("""
                            SELECT l.release || ' ' || l.message FROM log_entries l JOIN projects p ON p.id = l.project_id
                            WHERE p.name = :name AND l.source = 'session' ORDER BY l.id
                            """)
                    .bind("name", project).mapTo(String.class).list());
        }
    }

    static String quote(String text) {
        try {
            return JSON.writeValueAsString(text);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    @Override
    public void close() {
        server.close();
    }
}
