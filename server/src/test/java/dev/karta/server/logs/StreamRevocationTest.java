package dev.karta.server.logs;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.net.http.HttpRequest;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A live log stream lasts no longer than the key that opened it: revoked on this server, on
 * another one (the database), or deleted, the stream ends with {@code event: error} saying why.
 */
class StreamRevocationTest {
    @TempDir
    static Path dataDir;
    static LogsHarness server;

    @BeforeAll
    static void start() {
        // A long key cache: the stream must not depend on the cache expiring.
        server = LogsHarness.start(dataDir, LogsHarness.logs(Duration.ofMillis(200), 64 << 10), Duration.ofMinutes(10));
    }

    @AfterAll
    static void stop() {
        server.close();
    }

    private static String keyId(String secret) {
        return LogsHarness.json(server.get("/whoami", secret)).get("key").get("id").asText();
    }

    private static SseTestClient tail(String project, String key) {
        SseTestClient client = SseTestClient.open(server.port(), "/agent_projects/" + project + "/logs?tail=true&source=build", key);
        await().until(() -> client.status == 200);
        return client;
    }

    private static void assertClosedWithUnauthorized(SseTestClient client) {
        SseTestClient.Event error = client.events.stream().filter(e -> e.name().equals("error")).findFirst()
                .orElseThrow();
        assertThat(error.json().get("error").asText()).isEqualTo("unauthorized");
        assertThat(error.json().get("message").asText()).contains("revoked");
        assertThat(client.events.get(client.events.size() - 1)).isEqualTo(error);
    }

    @Test
    void revoking_the_key_through_the_api_ends_its_tail_with_an_error_event_at_once() {
        String project = server.createProject("revoked-tail");
        String reader = server.createKey("read");
        String id = keyId(reader);
        server.append(project, LogSource.BUILD, "before");

        try (SseTestClient client = tail("revoked-tail", reader)) {
            await().until(() -> client.logEvents().size() == 1);

            int status = LogsHarness.send(HttpRequest.newBuilder(server.uri("/api_keys/" + id))
                    .header("Authorization", "Bearer " + server.adminKey).DELETE()).statusCode();
            assertThat(status).isEqualTo(204);

            await().atMost(Duration.ofSeconds(3)).until(() -> client.ended.get());
            server.append(project, LogSource.BUILD, "after");
            assertClosedWithUnauthorized(client);
            assertThat(client.messages()).containsExactly("before");
        }
    }

    @Test
    void a_revocation_by_another_server_ends_the_tail_within_seconds() {
        server.createProject("revoked-elsewhere");
        String reader = server.createKey("read");
        String id = keyId(reader);

        try (SseTestClient client = tail("revoked-elsewhere", reader)) {
            // Another replica revokes in the shared database; this server hears nothing of it.
            server.db.execute("UPDATE api_keys SET revoked_at = ? WHERE id = ?", System.currentTimeMillis(), id);

            await().atMost(Duration.ofSeconds(6)).until(() -> client.ended.get());
            assertClosedWithUnauthorized(client);
        }
        assertThat(server.get("/whoami", reader).statusCode()).as("dropped from the key cache too").isEqualTo(401);
    }

    @Test
    void a_deleted_key_ends_its_tail_too() {
        server.createProject("deleted-key");
        String reader = server.createKey("read");
        String id = keyId(reader);

        try (SseTestClient client = tail("deleted-key", reader)) {
            server.db.execute("DELETE FROM api_keys WHERE id = ?", id);

            await().atMost(Duration.ofSeconds(6)).until(() -> client.ended.get());
            assertClosedWithUnauthorized(client);
        }
    }

    @Test
    void a_key_that_expires_ends_its_tail_within_seconds() {
        server.createProject("expiring-tail");
        String reader = server.createKey("read");
        String id = keyId(reader);

        try (SseTestClient client = tail("expiring-tail", reader)) {
            server.db.execute("UPDATE api_keys SET expires_at = ? WHERE id = ?", System.currentTimeMillis(), id);

            await().atMost(Duration.ofSeconds(6)).until(() -> client.ended.get());
            assertClosedWithUnauthorized(client);
            assertThat(client.events.get(client.events.size() - 1).json().get("message").asText()).contains("expired");
        }
        assertThat(LogsHarness.json(server.get("/whoami", reader)).get("message").asText()).contains("expired at");
    }

    @Test
    void a_tail_of_a_valid_key_stays_open_past_the_key_checks() {
        String project = server.createProject("still-valid");
        String reader = server.createKey("read");

        try (SseTestClient client = tail("still-valid", reader)) {
            int heartbeats = client.comments.get();
            await().until(() -> client.comments.get() >= heartbeats + 15); // past two key checks
            server.append(project, LogSource.BUILD, "still here");

            await().until(() -> client.logEvents().size() == 1);
            assertThat(client.ended.get()).isFalse();
        }
    }
}
