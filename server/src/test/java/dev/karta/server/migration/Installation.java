package dev.karta.server.migration;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import dev.karta.server.Config;
import dev.karta.server.Main;
import dev.karta.server.testkit.GitRunner;
import dev.karta.server.testkit.TarBuilder;
import dev.karta.server.testkit.TestServer;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.net.http.HttpRequest;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import picocli.CommandLine;

/**
 * Test support for moving installations: servers on a data dir and database, the operator
 * commands run as {@code karta server …} would run them (in this JVM, their standard error
 * captured), and the API answers that must read the same before and after a move.
 */
final class Installation {
    private Installation() {
    }

    /** What one {@code karta server} subcommand did. */
    record Command(int exit, String err) {
        Command ok() {
            assertThat(exit).as(err).isZero();
            return this;
        }
    }

    /** Runs {@code karta server ARGS} with its standard error captured. */
    static synchronized Command karta(String... args) {
        PrintStream original = System.err;
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        try (PrintStream capture = new PrintStream(err, true, StandardCharsets.UTF_8)) {
            System.setErr(capture);
            int exit = new CommandLine(new Main()).execute(args);
            return new Command(exit, err.toString(StandardCharsets.UTF_8));
        } finally {
            System.setErr(original);
        }
    }

    /** {@code --data-dir DIR} and, when not null, {@code --database URL}, then {@code more}. */
    static String[] args(Path dataDir, String database, String... more) {
        List<String> args = new ArrayList<>(List.of("--data-dir", dataDir.toString()));
        if (database != null) {
            args.add("--database");
            args.add(database);
        }
        args.addAll(List.of(more));
        return args.toArray(String[]::new);
    }

    /** A server on {@code dataDir} and {@code database} (SQLite in the data dir when null) with no bootstrap key. */
    static TestServer start(Path dataDir, String database, Config.Storage storage) {
        Config.Builder config = Config.builder(dataDir).port(0).storage(storage);
        if (database != null) {
            config.databaseUrl(database);
        }
        return TestServer.start(config.build());
    }

    /** Uploads an app and waits for its release. */
    static void publish(TestServer server, String key, String project, String marker) {
        publish(server, key, project, TarBuilder.app(marker));
    }

    /** Uploads {@code archive} and waits for its release. */
    static void publish(TestServer server, String key, String project, byte[] archive) {
        TestServer.Response accepted = server.send(server.request("/agent_projects/" + project + "/releases", key)
                .header("Content-Type", "application/gzip")
                .POST(HttpRequest.BodyPublishers.ofByteArray(archive)));
        assertThat(accepted.status()).as(accepted.body()).isEqualTo(202);
        String deploy = accepted.json().get("id").asText();
        await().atMost(Duration.ofSeconds(60)).pollInterval(Duration.ofMillis(25)).until(() -> server
                .get("/agent_projects/" + project + "/deploys/" + deploy, key).json()
                .get("status").asText().equals("succeeded"));
    }

    /** Pushes a fresh app to {@code project} through the server's git remote; returns the pushed commit. */
    static String push(TestServer server, String key, Path work, String project) {
        GitRunner git = new GitRunner(work.resolve("home")).with("GIT_ASKPASS", "/bin/false");
        Path app = git.newApp(work.resolve(project));
        git.run(app, "push", remote(server, key, project), "HEAD:refs/heads/main").ok();
        return git.head(app);
    }

    /** Clones {@code project} from the server; returns the commit its main branch holds. */
    static String cloneHead(TestServer server, String key, Path work, String project) {
        GitRunner git = new GitRunner(work.resolve("home")).with("GIT_ASKPASS", "/bin/false");
        Path clone = work.resolve("clone-" + System.nanoTime());
        git.run(work, "clone", "-q", remote(server, key, project), clone.toString()).ok();
        return git.head(clone);
    }

    private static String remote(TestServer server, String key, String project) {
        return "http://x:" + key + "@127.0.0.1:" + server.port() + "/git/" + project + ".git";
    }

    /** Answers of the API that a move must keep, with this server's address taken out. */
    static String answers(TestServer server, String key, String... projects) {
        StringBuilder out = new StringBuilder();
        out.append(read(server, key, "/agent_projects")).append('\n');
        out.append(read(server, key, "/api_keys")).append('\n');
        out.append(read(server, key, "/audit_events")).append('\n');
        for (String project : projects) {
            out.append(read(server, key, "/agent_projects/" + project + "/releases")).append('\n');
            out.append(read(server, key, "/agent_projects/" + project + "/deploys")).append('\n');
            out.append(read(server, key, "/agent_projects/" + project + "/logs?limit=1000")).append('\n');
        }
        return out.toString();
    }

    private static String read(TestServer server, String key, String path) {
        TestServer.Response answer = server.get(path, key);
        assertThat(answer.status()).as(path + ": " + answer.body()).isEqualTo(200);
        JsonNode json = answer.json();
        return path + " " + json.toString().replaceAll("127\\.0\\.0\\.1:\\d+", "HOST")
                .replaceAll("\"last_used_at\":(\"[^\"]*\"|null)", "\"last_used_at\":_");
    }

    static void copy(Path from, Path to) throws java.io.IOException {
        Files.createDirectories(to.getParent());
        Files.copy(from, to);
    }
}
