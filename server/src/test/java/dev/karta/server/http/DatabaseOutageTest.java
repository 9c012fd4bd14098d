package dev.karta.server.http;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import dev.karta.server.testkit.TarBuilder;
import dev.karta.server.testkit.TestServer;
import io.zonky.test.db.postgres.embedded.EmbeddedPostgres;
import java.io.IOException;
import java.net.ServerSocket;
import java.net.http.HttpRequest;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.Statement;
import java.time.Duration;
import java.util.Base64;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * PostgreSQL stopped under a running server, then started again on the same port and data: while
 * it is down, API and git requests answer 503 with {@code Retry-After} within a few seconds (never
 * 500), {@code /readyz} says unavailable and {@code /healthz} stays up; once it is back, the same
 * server serves, builds and follows logs again without a restart.
 */
class DatabaseOutageTest {
    @TempDir
    Path dir;

    private EmbeddedPostgres postgres;
    private int port;

    private void startPostgres() throws IOException {
        postgres = EmbeddedPostgres.builder().setPort(port).setDataDirectory(dir.resolve("pgdata"))
                .setCleanDataDirectory(false).start();
    }

    private void stopPostgres() throws IOException {
        postgres.close();
        postgres = null;
    }

    @AfterEach
    void stop() throws IOException {
        if (postgres != null) {
            stopPostgres();
        }
    }

    private static JsonNode awaitStatus(TestServer server, String project, String id, String... statuses) {
        JsonNode[] last = new JsonNode[1];
        await().atMost(Duration.ofSeconds(30)).until(() -> {
            last[0] = server.get("/agent_projects/" + project + "/deploys/" + id, server.adminKey()).json();
            return java.util.List.of(statuses).contains(last[0].get("status").asText());
        });
        return last[0];
    }

    private static TestServer.Response upload(TestServer server, String project, byte[] archive) {
        return server.send(server.request("/agent_projects/" + project + "/releases", server.adminKey())
                .header("Content-Type", "application/gzip").POST(HttpRequest.BodyPublishers.ofByteArray(archive)));
    }

    @Test
    void requests_answer_503_while_postgres_is_down_and_the_server_recovers_by_itself() throws Exception {
        try (ServerSocket free = new ServerSocket(0)) {
            port = free.getLocalPort();
        }
        startPostgres();
        try (Connection c = postgres.getPostgresDatabase().getConnection(); Statement s = c.createStatement()) {
            s.execute("CREATE DATABASE karta");
        }
        String url = postgres.getJdbcUrl("postgres", "karta");
        String key = TestServer.randomKey();
        try (TestServer server = TestServer.start(TestServer.config(dir.resolve("data"), key).toBuilder()
                .databaseUrl(url).keyCacheTtl(Duration.ofMillis(1)).build())) {
            String done = upload(server, "steady", TarBuilder.app("one")).json().get("id").asText();
            awaitStatus(server, "steady", done, "succeeded");
            assertThat(server.get("/readyz", null).json().get("status").asText()).isEqualTo("ready");
            await().until(() -> server.server().logWakeups().listening());
            long connects = server.server().logWakeups().connects();

            stopPostgres();

            long started = System.nanoTime();
            TestServer.Response api = server.get("/agent_projects", key);
            long tookMs = (System.nanoTime() - started) / 1_000_000;
            System.out.println("an API request with PostgreSQL down answered " + api.status() + " in " + tookMs
                    + " ms");
            assertThat(api.status()).as(api.body()).isEqualTo(503);
            assertThat(api.json().get("error").asText()).isEqualTo("unavailable");
            assertThat(api.json().get("message").asText()).contains("database is unreachable");
            assertThat(api.header("Retry-After")).isEqualTo("5");
            assertThat(tookMs).isLessThan(15_000);

            TestServer.Response write = server.post("/agent_projects", key, "{\"name\":\"during\"}");
            assertThat(write.status()).as(write.body()).isEqualTo(503);

            String basic = Base64.getEncoder().encodeToString(("git:" + key).getBytes(StandardCharsets.UTF_8));
            TestServer.Response git = server.send(server.request("/git/steady.git/info/refs?service=git-upload-pack",
                    null).header("Authorization", "Basic " + basic).GET());
            assertThat(git.status()).as(git.body()).isEqualTo(503);
            assertThat(git.header("Retry-After")).isEqualTo("5");

            TestServer.Response ready = server.get("/readyz", null);
            assertThat(ready.status()).isEqualTo(503);
            assertThat(ready.json().get("status").asText()).isEqualTo("unavailable");
            assertThat(ready.header("Retry-After")).isEqualTo("5");
            assertThat(server.get("/healthz", null).status()).isEqualTo(200);
            await().until(() -> !server.server().logWakeups().listening());

            startPostgres();

            await().atMost(Duration.ofSeconds(30)).until(() -> server.get("/readyz", null).status() == 200);
            await().atMost(Duration.ofSeconds(30)).until(() -> server.get("/agent_projects", key).status() == 200);
            String after = upload(server, "steady", TarBuilder.app("two")).json().get("id").asText();
            JsonNode built = awaitStatus(server, "steady", after, "succeeded", "failed");
            assertThat(built.get("status").asText()).as(built.toString()).isEqualTo("succeeded");
            assertThat(built.get("release").asText()).isEqualTo("v2");
            await().atMost(Duration.ofSeconds(10)).until(() -> server.server().logWakeups().listening());
            assertThat(server.server().logWakeups().connects()).isGreaterThan(connects);
        }
    }
}
