package dev.karta.server.sessions;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import dev.karta.server.Config;
import dev.karta.server.testkit.TestServer;
import dev.karta.server.testkit.TestServer.Response;
import dev.karta.server.store.Database;
import dev.karta.server.testkit.PostgresDatabase;
import dev.karta.server.testkit.PostgresExtension;
import dev.karta.server.testkit.TarBuilder;
import java.net.http.HttpRequest;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.stream.StreamSupport;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

/**
 * Drain visibility: the project JSON counts, per release, the sessions still live on it, so an
 * operator sees the old release draining after a deploy or rollback.
 */
class LiveSessionsTest {
    @TempDir
    static Path dir;
    static SessionFixture f;

    @BeforeAll
    static void start() {
        f = SessionFixture.start(dir);
    }

    @AfterAll
    static void stop() {
        f.close();
    }

    private static String live(String project) {
        return f.server.get("/agent_projects/" + project, f.reader).json().get("live_sessions").toString();
    }

    private static String entry(String version, boolean active, int sessions) {
        return "{\"version\":\"" + version + "\",\"active\":" + active + ",\"sessions\":" + sessions + "}";
    }

    @Test
    void project_counts_live_sessions_per_release_with_the_older_ones_draining() {
        String p = "drain-shop";
        f.publish(p, SessionFixture.claudeApp("drain v1"));
        String idle = f.open(p);
        String busy = f.open(p);
        CompletableFuture<Response> turn = CompletableFuture.supplyAsync(() -> f.message(p, busy, "wait:drain"));
        f.awaitWaiting("drain");
        f.publish(p, SessionFixture.claudeApp("drain v2"));
        f.open(p);

        assertThat(live(p)).isEqualTo("[" + entry("v2", true, 1) + "," + entry("v1", false, 2) + "]");

        assertThat(f.server.delete("/v1/projects/" + p + "/sessions/" + idle, f.writer).status()).isEqualTo(204);
        assertThat(live(p)).isEqualTo("[" + entry("v2", true, 1) + "," + entry("v1", false, 1) + "]");

        f.rollback(p, "v1");
        assertThat(live(p)).isEqualTo("[" + entry("v1", true, 1) + "," + entry("v2", false, 1) + "]");

        f.release("drain");
        assertThat(turn.join().status()).isEqualTo(200);
        assertThat(live(p)).as("an idle session after its turn is still live")
                .isEqualTo("[" + entry("v1", true, 1) + "," + entry("v2", false, 1) + "]");
    }

    @Test
    void a_dry_run_rollback_counts_the_live_sessions_that_stay_on_the_active_release() {
        String p = "drain-dry";
        f.publish(p, SessionFixture.claudeApp("dry v1"));
        f.open(p);
        f.publish(p, SessionFixture.claudeApp("dry v2"));
        f.open(p);
        f.open(p);

        Response preview = f.server.post("/agent_projects/" + p + "/rollback", f.admin,
                "{\"to\":\"v1\",\"dry_run\":true}");

        assertThat(preview.status()).as(preview.body()).isEqualTo(200);
        assertThat(preview.json().get("active").asText()).isEqualTo("v2");
        assertThat(preview.json().get("live_sessions_on_active").asLong()).isEqualTo(2);
        assertThat(live(p)).as("nothing changed").isEqualTo("[" + entry("v2", true, 2) + "," + entry("v1", false, 1) + "]");
    }

    @Test
    void the_active_release_shows_with_zero_sessions_and_a_project_without_a_release_shows_none() {
        Response created = f.server.post("/agent_projects", f.writer, "{\"name\":\"drain-empty\"}");
        assertThat(created.status()).isEqualTo(201);
        assertThat(created.json().get("live_sessions").toString()).isEqualTo("[]");
        assertThat(live("drain-empty")).isEqualTo("[]");

        f.publish("drain-empty", SessionFixture.claudeApp("empty v1"));
        f.publish("drain-empty", SessionFixture.claudeApp("empty v2"));

        assertThat(live("drain-empty")).as("v1 has no live session: not listed")
                .isEqualTo("[" + entry("v2", true, 0) + "]");
    }

    @Test
    void timed_out_sessions_and_other_projects_sessions_do_not_count_and_the_list_shows_each_projects() {
        f.publish("drain-mine", SessionFixture.claudeApp("mine v1"));
        f.publish("drain-other", SessionFixture.claudeApp("other v1"));
        String stale = f.open("drain-mine");
        f.open("drain-mine");
        f.open("drain-other");
        f.publish("drain-mine", SessionFixture.claudeApp("mine v2"));
        try (Database db = f.server.openDatabase()) {
            // Last touched an hour ago: past the fixture's ten-minute idle timeout, still recorded as idle.
            db.execute("UPDATE sessions SET updated_at = updated_at - 3600000 WHERE id = ?", stale);
        }

        assertThat(live("drain-mine")).isEqualTo("[" + entry("v2", true, 0) + "," + entry("v1", false, 1) + "]");
        JsonNode list = f.server.get("/agent_projects", f.reader).json().get("projects");
        JsonNode other = StreamSupport.stream(list.spliterator(), false)
                .filter(project -> project.get("name").asText().equals("drain-other")).findFirst().orElseThrow();
        JsonNode mine = StreamSupport.stream(list.spliterator(), false)
                .filter(project -> project.get("name").asText().equals("drain-mine")).findFirst().orElseThrow();
        assertThat(other.get("live_sessions").toString()).isEqualTo("[" + entry("v1", true, 1) + "]");
        assertThat(mine.get("live_sessions").toString()).isEqualTo(live("drain-mine"));
    }

    @Test
    @ExtendWith(PostgresExtension.class)
    void postgres_counts_the_same(PostgresDatabase postgres, @TempDir Path pgDir) {
        String key = TestServer.randomKey();
        Config config = TestServer.config(pgDir, key).toBuilder().databaseUrl(postgres.url()).build();
        try (TestServer server = TestServer.start(config)) {
            publish(server, "pg-drain", "pg v1");
            String first = open(server, "pg-drain");
            open(server, "pg-drain");
            publish(server, "pg-drain", "pg v2");
            open(server, "pg-drain");
            assertThat(server.delete("/v1/projects/pg-drain/sessions/" + first, key).status()).isEqualTo(204);

            assertThat(server.get("/agent_projects/pg-drain", key).json().get("live_sessions").toString())
                    .isEqualTo("[" + entry("v2", true, 1) + "," + entry("v1", false, 1) + "]");
        }
    }

    private static void publish(TestServer server, String project, String answer) {
        Response accepted = server.send(server.request("/agent_projects/" + project + "/releases", server.adminKey())
                .header("Content-Type", "application/gzip")
                .POST(HttpRequest.BodyPublishers.ofByteArray(TarBuilder.files(SessionFixture.claudeApp(answer)))));
        assertThat(accepted.status()).as(accepted.body()).isEqualTo(202);
        String deploy = accepted.json().get("id").asText();
        await().atMost(SessionFixture.PATIENCE).pollInterval(Duration.ofMillis(20)).until(() -> server
                .get("/agent_projects/" + project + "/deploys/" + deploy, server.adminKey()).json()
                .get("status").asText().equals("succeeded"));
    }

    private static String open(TestServer server, String project) {
        Response created = server.post("/v1/projects/" + project + "/sessions", server.adminKey(), "{}");
        assertThat(created.status()).as(created.body()).isEqualTo(201);
        return created.json().get("id").asText();
    }
}
