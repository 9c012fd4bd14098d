package dev.karta.server.http;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import dev.karta.server.store.Database;
import dev.karta.server.testkit.EachDatabase;
import dev.karta.server.testkit.TestDatabase;
import dev.karta.server.testkit.TestServer;
import dev.karta.server.testkit.TestServer.Response;
import java.net.http.HttpRequest;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.AfterParameterizedClassInvocation;
import org.junit.jupiter.params.BeforeParameterizedClassInvocation;
import org.junit.jupiter.params.Parameter;
import org.junit.jupiter.params.ParameterizedClass;
import org.junit.jupiter.params.provider.ArgumentsSource;

/**
 * {@code Idempotency-Key} on the key and project routes: a retry with the same key has one effect
 * and gets the same answer; the keys of one org never answer another org's requests.
 */
@ParameterizedClass(name = "on {0}")
@ArgumentsSource(EachDatabase.class)
class IdempotencyTest {
    private static final AtomicInteger N = new AtomicInteger();

    @Parameter
    TestDatabase database;
    @TempDir
    static Path temp;
    static TestServer server;
    static String otherOrg;

    @BeforeParameterizedClassInvocation
    static void start(TestDatabase database) {
        server = database.startUnder(temp);
        otherOrg = server.createOrg("other-" + N.incrementAndGet());
    }

    @AfterParameterizedClassInvocation
    static void stop() {
        server.close();
    }

    private static Response post(String path, String key, String idempotencyKey, String json) {
        return server.send(server.request(path, key).header("Content-Type", "application/json")
                .header("Idempotency-Key", idempotencyKey).POST(HttpRequest.BodyPublishers.ofString(json)));
    }

    private static Response delete(String path, String key, String idempotencyKey) {
        return server.send(server.request(path, key).header("Idempotency-Key", idempotencyKey).DELETE());
    }

    private static long audited(String key, String action) {
        return server.get("/audit_events", key).json().get("events").findValuesAsText("action").stream()
                .filter(action::equals).count();
    }

    private static List<String> keyNames(String key) {
        return server.get("/api_keys", key).json().get("api_keys").findValuesAsText("name");
    }

    @Test
    void a_retried_key_creation_creates_one_key_and_never_stores_or_repeats_its_secret() {
        String name = "ci-" + N.incrementAndGet();
        String body = "{\"name\":\"" + name + "\",\"scopes\":[\"write\"]}";

        Response first = post("/api_keys", server.adminKey(), "create-key-1", body);
        Response retry = post("/api_keys", server.adminKey(), "create-key-1", body);

        assertThat(first.status()).isEqualTo(201);
        assertThat(retry.status()).isEqualTo(201);
        assertThat(retry.header("Idempotent-Replayed")).isEqualTo("true");
        assertThat(retry.json().get("api_key")).isEqualTo(first.json().get("api_key"));
        String secret = first.json().get("secret").asText();
        assertThat(retry.body()).doesNotContain(secret);
        assertThat(keyNames(server.adminKey())).filteredOn(name::equals).hasSize(1);
        try (Database db = server.openDatabase()) {
            List<String> stored = db.withHandle(h -> h.createQuery("SELECT body FROM idempotency_keys")
                    .mapTo(String.class).list());
            assertThat(stored).noneMatch(text -> text != null && text.contains(secret));
        }
    }

    @Test
    void a_retried_key_revocation_is_one_revocation_with_the_same_answer() {
        String secret = server.createKey("doomed-" + N.incrementAndGet(), "read");
        String id = server.get("/whoami", secret).json().get("key").get("id").asText();
        long before = audited(server.adminKey(), "api_key.revoke");

        Response first = delete("/api_keys/" + id, server.adminKey(), "revoke-1");
        Response retry = delete("/api_keys/" + id, server.adminKey(), "revoke-1");

        assertThat(first.status()).isEqualTo(204);
        assertThat(retry.status()).isEqualTo(204);
        assertThat(retry.header("Idempotent-Replayed")).isEqualTo("true");
        assertThat(retry.body()).isEqualTo(first.body());
        assertThat(audited(server.adminKey(), "api_key.revoke")).isEqualTo(before + 1);
    }

    @Test
    void a_retried_project_creation_creates_one_project_and_answers_it_again() {
        String name = "idem-" + N.incrementAndGet();

        Response first = post("/agent_projects", server.adminKey(), "create-project-1", "{\"name\":\"" + name + "\"}");
        Response retry = post("/agent_projects", server.adminKey(), "create-project-1", "{\"name\":\"" + name + "\"}");

        assertThat(first.status()).isEqualTo(201);
        assertThat(retry.status()).as("without the key the retry would be 409 name taken").isEqualTo(201);
        assertThat(retry.header("Idempotent-Replayed")).isEqualTo("true");
        assertThat(retry.body()).isEqualTo(first.body());
    }

    @Test
    void a_retried_project_deletion_is_one_deletion_with_the_same_answer() {
        String name = "gone-" + N.incrementAndGet();
        assertThat(server.post("/agent_projects", server.adminKey(), "{\"name\":\"" + name + "\"}").status())
                .isEqualTo(201);
        long before = audited(server.adminKey(), "project.delete");

        Response first = delete("/agent_projects/" + name, server.adminKey(), "delete-project-1");
        Response retry = delete("/agent_projects/" + name, server.adminKey(), "delete-project-1");

        assertThat(first.status()).isEqualTo(204);
        assertThat(retry.status()).as("without the key the retry would be 404").isEqualTo(204);
        assertThat(retry.header("Idempotent-Replayed")).isEqualTo("true");
        assertThat(audited(server.adminKey(), "project.delete")).isEqualTo(before + 1);
    }

    @Test
    void another_orgs_request_with_the_same_idempotency_key_is_its_own_request() {
        String mine = "mine-" + N.incrementAndGet();
        String theirs = "theirs-" + N.incrementAndGet();

        Response first = post("/agent_projects", server.adminKey(), "shared-key", "{\"name\":\"" + mine + "\"}");
        Response other = post("/agent_projects", otherOrg, "shared-key", "{\"name\":\"" + theirs + "\"}");
        Response sameBody = post("/api_keys", otherOrg, "shared-key-2", "{\"name\":\"k\",\"scopes\":[\"read\"]}");
        Response firstKey = post("/api_keys", server.adminKey(), "shared-key-2", "{\"name\":\"k\",\"scopes\":[\"read\"]}");

        assertThat(first.status()).isEqualTo(201);
        assertThat(other.status()).isEqualTo(201);
        assertThat(other.header("Idempotent-Replayed")).isNull();
        JsonNode otherProject = other.json();
        assertThat(otherProject.get("name").asText()).isEqualTo(theirs);
        assertThat(server.get("/agent_projects/" + theirs, server.adminKey()).status()).isEqualTo(404);
        assertThat(firstKey.header("Idempotent-Replayed")).isNull();
        assertThat(firstKey.json().get("secret").asText()).isNotEqualTo(sameBody.json().get("secret").asText());
        assertThat(firstKey.json().get("api_key").get("id")).isNotEqualTo(sameBody.json().get("api_key").get("id"));
    }

    @Test
    void a_reservation_left_by_a_server_that_died_is_taken_over_by_a_retry() {
        String key = server.adminKey();
        Response probe = post("/agent_projects", key, "probe-" + N.incrementAndGet(),
                "{\"name\":\"probe-" + N.get() + "\"}");
        assertThat(probe.status()).isEqualTo(201);
        String name = "after-crash-" + N.incrementAndGet();
        try (Database db = server.openDatabase()) {
            String org = db.withHandle(h -> h.createQuery("SELECT org_id FROM idempotency_keys WHERE idem_key = :k")
                    .bind("k", "probe-" + (N.get() - 1)).mapTo(String.class).one());
            // What a server killed between reserving the key and storing the answer leaves behind.
            db.execute("INSERT INTO idempotency_keys (org_id, idem_key, fingerprint, created_at) VALUES (?, ?, ?, ?)",
                    org, "crashed-" + name, "project.create:" + name, System.currentTimeMillis() - 120_000);
        }

        Response retried = post("/agent_projects", key, "crashed-" + name, "{\"name\":\"" + name + "\"}");

        assertThat(retried.status()).as(retried.body()).isEqualTo(201);
        assertThat(retried.header("Idempotent-Replayed")).isNull();
        Response again = post("/agent_projects", key, "crashed-" + name, "{\"name\":\"" + name + "\"}");
        assertThat(again.status()).isEqualTo(201);
        assertThat(again.header("Idempotent-Replayed")).isEqualTo("true");
    }
}
