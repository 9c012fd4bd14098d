package dev.karta.server.sessions;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.karta.server.Config;
import dev.karta.server.testkit.EachDatabase;
import dev.karta.server.testkit.TarBuilder;
import dev.karta.server.testkit.TestDatabase;
import dev.karta.server.testkit.TestServer;
import dev.karta.server.testkit.TestServer.Response;
import java.net.http.HttpRequest;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.Parameter;
import org.junit.jupiter.params.ParameterizedClass;
import org.junit.jupiter.params.provider.ArgumentsSource;

/**
 * An org has at most {@code --max-sessions-per-org} live sessions and runs at most
 * {@code --max-turns-per-org} turns at once; over either it gets 429 with {@code Retry-After}.
 */
@ParameterizedClass(name = "on {0}")
@ArgumentsSource(EachDatabase.class)
class SessionQuotaTest {
    @Parameter
    TestDatabase database;
    @TempDir
    Path dir;
    Path spy;
    TestServer server;

    @BeforeEach
    void start() throws Exception {
        spy = dir.resolve("spy");
        Files.createDirectories(spy);
        Path claude = FakeHarness.claude(dir.resolve("bin"), spy);
        Config.SessionSettings settings = new Config.SessionSettings(claude.toString(), claude.toString(),
                Duration.ofMinutes(10), Duration.ofSeconds(20), 16, 100_000, 1L << 20,
                FakeHarness.environment(dir.resolve("home")));
        server = TestServer.start(database.config(dir.resolve("data"), TestServer.randomKey())
                .withSessions(settings)
                .withLimits(new Config.Limits(100, 2, 1, 50, 0, 5, 30)).toBuilder()
                .sandbox(SessionFixture.UNSANDBOXED).build());
        publish("alpha");
        publish("beta");
    }

    @AfterEach
    void stop() {
        server.close();
    }

    private void publish(String project) {
        Response accepted = server.send(server.request("/agent_projects/" + project + "/releases", server.adminKey())
                .header("Content-Type", "application/gzip")
                .POST(HttpRequest.BodyPublishers.ofByteArray(TarBuilder.files(SessionFixture.claudeApp("hi")))));
        assertThat(accepted.status()).as(accepted.body()).isEqualTo(202);
        await().atMost(Duration.ofSeconds(30)).until(() -> !server.get("/agent_projects/" + project, server.adminKey())
                .json().get("current_release").isNull());
    }

    private Response open(String project) {
        return server.post("/v1/projects/" + project + "/sessions", server.adminKey(), "{}");
    }

    private Response message(String project, String id, String text) {
        return server.post("/v1/projects/" + project + "/sessions/" + id + "/messages", server.adminKey(),
                "{\"text\":" + SessionFixture.quote(text) + "}");
    }

    @Test
    void a_session_over_the_org_limit_of_live_sessions_gets_429_until_one_ends() {
        String first = open("alpha").json().get("id").asText();
        assertThat(open("beta").status()).isEqualTo(201);

        Response third = open("alpha");

        assertThat(third.status()).as(third.body()).isEqualTo(429);
        assertThat(third.json().get("error").asText()).isEqualTo("too_many_requests");
        assertThat(third.json().get("message").asText()).contains("2 live sessions", "--max-sessions-per-org");
        assertThat(Long.parseLong(third.headers().firstValue("Retry-After").orElseThrow())).isPositive();

        assertThat(server.delete("/v1/projects/alpha/sessions/" + first, server.adminKey()).status()).isEqualTo(204);
        assertThat(open("alpha").status()).isEqualTo(201);
    }

    @Test
    void a_turn_over_the_org_limit_of_running_turns_gets_429_and_the_session_stays_idle() throws Exception {
        String first = open("alpha").json().get("id").asText();
        String second = open("beta").json().get("id").asText();
        CompletableFuture<Response> running = CompletableFuture.supplyAsync(() -> message("alpha", first, "wait:gate"));
        await().atMost(Duration.ofSeconds(30)).until(() -> Files.exists(spy.resolve("waiting.gate")));

        Response over = message("beta", second, "hello");

        assertThat(over.status()).as(over.body()).isEqualTo(429);
        assertThat(over.json().get("message").asText()).contains("1 turns at once", "--max-turns-per-org");
        assertThat(Long.parseLong(over.headers().firstValue("Retry-After").orElseThrow())).isPositive();
        assertThat(server.get("/v1/projects/beta/sessions/" + second, server.adminKey()).json().get("status").asText())
                .isEqualTo("idle");

        Files.writeString(spy.resolve("gate"), "go");
        assertThat(running.get().status()).isEqualTo(200);
        assertThat(message("beta", second, "hello").status()).isEqualTo(200);
    }
}
