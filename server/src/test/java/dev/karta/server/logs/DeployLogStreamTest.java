package dev.karta.server.logs;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import dev.karta.server.testkit.TarBuilder;
import java.io.IOException;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code …/deploys/{id}/logs}: the build log on the same feed machinery, ending with the deploy. */
class DeployLogStreamTest {
    @TempDir
    static Path dataDir;
    static LogsHarness server;

    @BeforeAll
    static void start() {
        server = LogsHarness.start(dataDir);
    }

    @AfterAll
    static void stop() {
        server.close();
    }

    private static String upload(String project) throws IOException {
        byte[] archive = new TarBuilder().file("README.md", "no harness here\n").build();
        HttpResponse<String> accepted = LogsHarness.send(HttpRequest.newBuilder(server.uri(
                        "/agent_projects/" + project + "/releases"))
                .header("Authorization", "Bearer " + server.adminKey)
                .header("Content-Type", "application/gzip")
                .POST(HttpRequest.BodyPublishers.ofByteArray(archive)));
        assertThat(accepted.statusCode()).as(accepted.body()).isEqualTo(202);
        return LogsHarness.json(accepted).get("id").asText();
    }

    @Test
    void a_deploy_stream_sends_its_build_log_then_end_with_the_deploy_and_closes() throws IOException {
        String deployId = upload("deploy-stream");

        try (SseTestClient client = SseTestClient.open(server.port(),
                "/agent_projects/deploy-stream/deploys/" + deployId + "/logs", server.adminKey,
                "Accept", "text/event-stream")) {
            await().until(() -> client.ended.get());

            List<SseTestClient.Event> events = client.events;
            assertThat(events).isNotEmpty();
            SseTestClient.Event end = events.get(events.size() - 1);
            assertThat(end.name()).isEqualTo("end");
            JsonNode deploy = end.json();
            assertThat(deploy.get("id").asText()).isEqualTo(deployId);
            assertThat(deploy.get("status").asText()).isIn("succeeded", "failed");
            List<SseTestClient.Event> logs = client.logEvents();
            assertThat(logs).hasSize(events.size() - 1);
            assertThat(logs).allSatisfy(e -> assertThat(e.json().get("deploy_id").asText()).isEqualTo(deployId));
            assertThat(client.ids()).isSorted().doesNotHaveDuplicates();
            assertThat(client.messages().get(0)).startsWith("Deploy " + deployId + " accepted");
        }
    }

    @Test
    void a_deploy_stream_resumes_after_last_event_id() throws IOException {
        String deployId = upload("deploy-resume");
        List<Long> all;
        try (SseTestClient first = SseTestClient.open(server.port(),
                "/agent_projects/deploy-resume/deploys/" + deployId + "/logs", server.adminKey,
                "Accept", "text/event-stream")) {
            await().until(() -> first.ended.get());
            all = first.ids();
        }
        assertThat(all).hasSizeGreaterThan(1);

        try (SseTestClient second = SseTestClient.open(server.port(),
                "/agent_projects/deploy-resume/deploys/" + deployId + "/logs", server.adminKey,
                "Accept", "text/event-stream", "Last-Event-ID", Long.toString(all.get(0)))) {
            await().until(() -> second.ended.get());

            assertThat(second.ids()).isEqualTo(all.subList(1, all.size()));
            assertThat(second.events.get(second.events.size() - 1).name()).isEqualTo("end");
        }
    }

    @Test
    void followers_of_one_deploy_share_its_reads_instead_of_each_polling() throws IOException {
        String deployId = upload("many-followers");
        await().until(() -> !LogsHarness.json(server.get("/agent_projects/many-followers/deploys/" + deployId,
                server.adminKey)).get("status").asText().matches("queued|building"));
        String projectId = server.db.withHandle(h -> h.createQuery("SELECT project_id FROM deploys WHERE id = :id")
                .bind("id", deployId).mapTo(String.class).one());
        // Building again, under a lease no housekeeping will take over: as if another server built it.
        server.db.execute("UPDATE deploys SET status = 'building', finished_at = NULL, lease_until = ? WHERE id = ?",
                System.currentTimeMillis() + 3_600_000, deployId);
        LogFeeds feeds = server.server.logFeeds();
        int followers = 8;
        List<SseTestClient> clients = new java.util.ArrayList<>();
        try {
            for (int i = 0; i < followers; i++) {
                clients.add(SseTestClient.open(server.port(), "/agent_projects/many-followers/deploys/" + deployId
                        + "/logs", server.adminKey, "Accept", "text/event-stream"));
            }
            int replayed = server.db.withHandle(h -> h.createQuery("SELECT COUNT(*) FROM log_entries WHERE deploy_id = :d")
                    .bind("d", deployId).mapTo(Integer.class).one());
            await().until(() -> clients.stream().allMatch(c -> c.logEvents().size() == replayed));

            long before = feeds.endChecks();
            long started = System.nanoTime();
            for (int i = 1; i <= 3; i++) {
                server.server.logs().append(projectId, LogSource.BUILD, deployId, null, "step " + i);
                int expected = replayed + i;
                await().until(() -> clients.stream().allMatch(c -> c.logEvents().size() == expected));
                await().pollDelay(java.time.Duration.ofSeconds(1)).until(() -> true);
            }
            long seconds = Math.max(1, (System.nanoTime() - started) / 1_000_000_000L);
            long reads = feeds.endChecks() - before;
            assertThat(reads).as("deploy reads for %d followers over %d s and 3 entries", followers, seconds)
                    .isLessThanOrEqualTo(3 + seconds / 5 + 2); // per entry, per end poll, and the checks as they went live

            server.db.inTransaction(h -> {
                h.execute("UPDATE deploys SET status = 'failed', error = 'stopped', finished_at = ? WHERE id = ?",
                        System.currentTimeMillis(), deployId);
                server.server.logs().append(h, projectId, LogSource.BUILD, deployId, null, "Build failed: stopped");
                return null;
            });
            await().atMost(java.time.Duration.ofSeconds(10)).until(() -> clients.stream().allMatch(c -> c.ended.get()));
            assertThat(clients).allSatisfy(c -> {
                assertThat(c.events.get(c.events.size() - 1).name()).isEqualTo("end");
                assertThat(c.logEvents()).hasSize(replayed + 4);
            });
        } finally {
            clients.forEach(SseTestClient::close);
        }
    }
}
