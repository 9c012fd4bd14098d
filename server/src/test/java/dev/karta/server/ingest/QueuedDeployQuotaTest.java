package dev.karta.server.ingest;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.karta.server.Config;
import dev.karta.server.testkit.EachDatabase;
import dev.karta.server.testkit.GitRunner;
import dev.karta.server.testkit.TarBuilder;
import dev.karta.server.testkit.TestDatabase;
import dev.karta.server.testkit.TestServer;
import dev.karta.server.testkit.TestServer.Response;
import java.io.IOException;
import java.net.http.HttpRequest;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.Parameter;
import org.junit.jupiter.params.ParameterizedClass;
import org.junit.jupiter.params.provider.ArgumentsSource;

/**
 * An org has at most {@code --max-queued-deploys-per-org} deploys waiting for a build worker;
 * over it every door (upload, git push) is refused with 429 and {@code Retry-After}.
 */
@ParameterizedClass(name = "on {0}")
@ArgumentsSource(EachDatabase.class)
class QueuedDeployQuotaTest {
    @Parameter
    TestDatabase database;
    private static final byte[] DOCKER_APP = new TarBuilder().file("Dockerfile", "FROM scratch\n")
            .file("CLAUDE.md", "# docker\n").build();

    @TempDir
    Path dir;
    Path gate;
    TestServer server;

    @BeforeEach
    void start() {
        gate = dir.resolve("gate");
        // One build worker, held by an image builder that waits for the gate file.
        List<String> builder = List.of("sh", "-c", "while [ ! -e \"$0\" ]; do sleep 0.05; done", gate.toString());
        server = TestServer.start(database.config(dir.resolve("data"), TestServer.randomKey()).toBuilder()
                .buildWorkers(1).buildTimeout(Duration.ofMinutes(1)).builderCommand(builder)
                .limits(new Config.Limits(100, 100, 8, 1, 0, 5, 30)).build());
    }

    @AfterEach
    void stop() throws IOException {
        Files.writeString(gate, "go");
        server.close();
    }

    private Response upload(String project, byte[] archive) {
        return server.send(server.request("/agent_projects/" + project + "/releases", server.adminKey())
                .header("Content-Type", "application/gzip").POST(HttpRequest.BodyPublishers.ofByteArray(archive)));
    }

    private String status(String project, String deployId) {
        return server.get("/agent_projects/" + project + "/deploys/" + deployId, server.adminKey()).json()
                .get("status").asText();
    }

    @Test
    void a_deploy_over_the_org_limit_of_queued_deploys_gets_429_from_every_door() throws Exception {
        String building = upload("building", DOCKER_APP).json().get("id").asText();
        await().atMost(Duration.ofSeconds(30)).until(() -> status("building", building).equals("building"));
        assertThat(upload("second", TarBuilder.app("second")).status()).isEqualTo(202);

        Response over = upload("third", TarBuilder.app("third"));

        assertThat(over.status()).as(over.body()).isEqualTo(429);
        assertThat(over.json().get("message").asText()).contains("1 queued deploys", "--max-queued-deploys-per-org");
        assertThat(Long.parseLong(over.headers().firstValue("Retry-After").orElseThrow())).isPositive();
        assertThat(server.get("/agent_projects/third", server.adminKey()).status()).isEqualTo(404);
        // A newer deploy of a project with a queued one replaces it: the queue does not grow.
        Response again = upload("second", TarBuilder.app("second again"));
        assertThat(again.status()).isEqualTo(202);

        Git push = git(dir, "push", "http://x:" + server.adminKey() + "@127.0.0.1:" + server.port()
                + "/git/pushed.git", "main");
        assertThat(push.exit()).as(push.err()).isNotZero();
        assertThat(push.err()).contains("--max-queued-deploys-per-org");

        Files.writeString(gate, "go");
        await().atMost(Duration.ofSeconds(30)).until(() -> status("building", building).equals("succeeded"));
        String next = again.json().get("id").asText();
        await().atMost(Duration.ofSeconds(30)).until(() -> !status("second", next).equals("queued"));
        assertThat(upload("third", TarBuilder.app("third")).status()).isEqualTo(202);
    }

    record Git(int exit, String err) {
    }

    /** A repository in {@code dir} with one commit on main, then {@code git ARGS} with an isolated HOME. */
    private Git git(Path dir, String... args) throws Exception {
        Path repo = dir.resolve("repo");
        Files.createDirectories(repo);
        Files.writeString(repo.resolve("CLAUDE.md"), "# pushed\n");
        run(repo, "init", "-q", "-b", "main");
        run(repo, "add", "-A");
        run(repo, "-c", "user.name=t", "-c", "user.email=t@karta.invalid", "commit", "-q", "-m", "first");
        return run(repo, args);
    }

    private Git run(Path repo, String... args) {
        GitRunner.Run run = new GitRunner(dir.resolve("home")).run(repo, args);
        return new Git(run.exit(), run.err());
    }
}
