package dev.karta.server.usage;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import dev.karta.server.testkit.EachDatabase;
import dev.karta.server.testkit.TarBuilder;
import dev.karta.server.testkit.TestDatabase;
import dev.karta.server.testkit.TestServer;
import dev.karta.server.testkit.TestServer.Response;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.http.HttpRequest;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.YearMonth;
import java.time.ZoneOffset;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.AfterParameterizedClassInvocation;
import org.junit.jupiter.params.BeforeParameterizedClassInvocation;
import org.junit.jupiter.params.Parameter;
import org.junit.jupiter.params.ParameterizedClass;
import org.junit.jupiter.params.provider.ArgumentsSource;

/**
 * {@code GET /agent_projects/{p}/usage?period=YYYY-MM}: the usage counters computed from the
 * tables, the month defaulting to the current one (UTC). Sessions and messages are counted from
 * rows written here directly: running a harness is the sessions tests' business.
 */
@ParameterizedClass(name = "on {0}")
@ArgumentsSource(EachDatabase.class)
class UsageTest {
    @Parameter
    TestDatabase database;
    @TempDir
    static Path temp;
    static Path dir;
    static TestServer server;

    @BeforeParameterizedClassInvocation
    static void start(TestDatabase database) {
        dir = temp.resolve(database.toString());
        server = database.start(dir);
    }

    @AfterParameterizedClassInvocation
    static void stop() {
        server.close();
    }

    @Test
    void usage_counts_deploys_builds_releases_sessions_messages_and_stored_bytes() {
        String p = "usage-counted";
        publish(p, Map.of("CLAUDE.md", "one\n", "answer.txt", "first\n"), "succeeded");
        publish(p, Map.of("CLAUDE.md", "two\n", "answer.txt", "second, a little longer\n"), "succeeded");
        publish(p, Map.of("karta.toml", "entry_point = [\n"), "failed");
        String session = server.post("/v1/projects/" + p + "/sessions", server.adminKey(), "{}").json().get("id").asText();
        server.post("/v1/projects/" + p + "/sessions", server.adminKey(), "{}");
        try (var db = server.openDatabase()) {
            for (int i = 0; i < 3; i++) {
                db.execute("INSERT INTO session_turns (id, session_id, project_id, status, started_at, finished_at) "
                        + "SELECT ?, id, project_id, 'completed', ?, ? FROM sessions WHERE id = ?",
                        "msg_usage" + i, System.currentTimeMillis(), System.currentTimeMillis(), session);
            }
        }

        Response r = server.get("/agent_projects/" + p + "/usage", server.adminKey());

        assertThat(r.status()).as(r.body()).isEqualTo(200);
        JsonNode u = r.json();
        assertThat(u.get("period").asText()).isEqualTo(YearMonth.now(ZoneOffset.UTC).toString());
        assertThat(u.get("deploys").asLong()).isEqualTo(3);
        assertThat(u.get("builds_succeeded").asLong()).isEqualTo(2);
        assertThat(u.get("builds_failed").asLong()).isEqualTo(1);
        assertThat(u.get("build_seconds").asDouble()).isGreaterThanOrEqualTo(0.0).isLessThan(120.0);
        assertThat(u.get("releases").asLong()).isEqualTo(2);
        assertThat(u.get("sessions").asLong()).isEqualTo(2);
        assertThat(u.get("messages").asLong()).isEqualTo(3);
        assertThat(u.get("stored_bytes").asLong()).isEqualTo(treeBytes(p) + artifactBytes());
        assertThat(u.get("stored_bytes").asLong()).isGreaterThan(0);
    }

    @Test
    void another_month_counts_nothing_but_stored_bytes() {
        String p = "usage-other-month";
        publish(p, Map.of("CLAUDE.md", "x\n"), "succeeded");

        JsonNode u = server.get("/agent_projects/" + p + "/usage?period=2001-02", server.adminKey()).json();

        assertThat(u.get("period").asText()).isEqualTo("2001-02");
        assertThat(u.get("deploys").asLong()).isZero();
        assertThat(u.get("releases").asLong()).isZero();
        assertThat(u.get("builds_succeeded").asLong()).isZero();
        assertThat(u.get("sessions").asLong()).isZero();
        assertThat(u.get("stored_bytes").asLong()).isPositive();
    }

    @Test
    void usage_rejects_a_malformed_period() {
        String p = "usage-bad-period";
        server.post("/agent_projects", server.adminKey(), "{\"name\":\"" + p + "\"}");
        for (String bad : new String[] {"2026-13", "2026-1", "26-01", "2026-00", "last-month", "2026-01-01"}) {
            Response r = server.get("/agent_projects/" + p + "/usage?period=" + bad, server.adminKey());
            assertThat(r.status()).as(bad).isEqualTo(400);
            assertThat(r.json().get("message").asText()).as(bad).contains("YYYY-MM");
        }
    }

    @Test
    void usage_needs_a_read_key_of_the_project_org() {
        String p = "usage-scoped";
        server.post("/agent_projects", server.adminKey(), "{\"name\":\"" + p + "\"}");
        String reader = server.createKey("usage-reader", "read");
        String stranger = server.createOrg("usage-stranger");

        assertThat(server.get("/agent_projects/" + p + "/usage", reader).status()).isEqualTo(200);
        assertThat(server.get("/agent_projects/" + p + "/usage", null).status()).isEqualTo(401);
        assertThat(server.get("/agent_projects/" + p + "/usage", stranger).status()).isEqualTo(404);
    }

    static void publish(String project, Map<String, String> files, String outcome) {
        Response accepted = server.send(server.request("/agent_projects/" + project + "/releases", server.adminKey())
                .header("Content-Type", "application/gzip")
                .POST(HttpRequest.BodyPublishers.ofByteArray(TarBuilder.files(files))));
        assertThat(accepted.status()).as(accepted.body()).isEqualTo(202);
        String deploy = accepted.json().get("id").asText();
        await().atMost(Duration.ofSeconds(30)).until(() -> server.get("/agent_projects/" + project + "/deploys/" + deploy,
                server.adminKey()).json().get("status").asText().equals(outcome));
    }

    static long treeBytes(String project) {
        long total = 0;
        for (JsonNode release : server.get("/agent_projects/" + project + "/releases", server.adminKey()).json()
                .get("releases")) {
            String digest = release.get("content_digest").asText();
            total += bytesUnder(dir.resolve("trees").resolve(digest.substring(digest.indexOf(':') + 1)));
        }
        return total;
    }

    /** Every upload of this test class is stored once in the artifact folder; this project's are all but others'. */
    static long artifactBytes() {
        return bytesUnder(dir.resolve("artifacts")) - otherProjectsArtifacts();
    }

    private static long otherProjectsArtifacts() {
        try (var db = server.openDatabase()) {
            return db.withHandle(h -> h.createQuery("SELECT DISTINCT d.artifact FROM deploys d JOIN projects p "
                            + "ON p.id = d.project_id WHERE p.name <> 'usage-counted'").mapTo(String.class).list())
                    .stream().mapToLong(a -> size(dir.resolve("artifacts").resolve(a + ".tar.gz"))).sum();
        }
    }

    static long bytesUnder(Path root) {
        try (Stream<Path> files = Files.walk(root)) {
            return files.filter(Files::isRegularFile).mapToLong(UsageTest::size).sum();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    static long size(Path file) {
        try {
            return Files.size(file);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
