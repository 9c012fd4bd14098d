package dev.karta.server.audit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import dev.karta.server.store.Database;
import dev.karta.server.store.Dialect;
import dev.karta.server.testkit.EachDatabase;
import dev.karta.server.testkit.TestDatabase;
import dev.karta.server.testkit.TestServer;
import dev.karta.server.testkit.TestServer.Response;
import java.net.http.HttpRequest;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.AfterParameterizedClassInvocation;
import org.junit.jupiter.params.BeforeParameterizedClassInvocation;
import org.junit.jupiter.params.Parameter;
import org.junit.jupiter.params.ParameterizedClass;
import org.junit.jupiter.params.provider.ArgumentsSource;

/**
 * The audit log: every change appends an event in the change's own transaction, listed newest
 * first for admins of the org, and the table refuses updates and deletes.
 */
@ParameterizedClass(name = "on {0}")
@ArgumentsSource(EachDatabase.class)
class AuditLogTest {
    @Parameter
    TestDatabase database;
    @TempDir
    static Path temp;
    static TestServer server;
    static Database db;
    static String writer;
    static String writerId;
    static String adminId;

    @BeforeParameterizedClassInvocation
    static void start(TestDatabase database) {
        server = database.startUnder(temp);
        db = server.openDatabase();
        writer = server.createKey("writer", "write");
        writerId = keyId(writer);
        adminId = keyId(server.adminKey());
    }

    @AfterParameterizedClassInvocation
    static void stop() {
        db.close();
        server.close();
    }

    @Test
    void project_create_and_delete_are_audited_with_actor_request_id_and_remote_ip() {
        Response created = server.send(server.request("/agent_projects", writer)
                .header("Content-Type", "application/json").header("X-Request-Id", "audit-create-1")
                .POST(HttpRequest.BodyPublishers.ofString("{\"name\":\"audited-app\"}")));
        assertThat(created.status()).isEqualTo(201);
        Response deleted = server.send(server.request("/agent_projects/audited-app", server.adminKey())
                .header("X-Request-Id", "audit-delete-1").DELETE());
        assertThat(deleted.status()).isEqualTo(204);

        JsonNode create = eventWithRequestId("audit-create-1");
        assertThat(create.get("action").asText()).isEqualTo("project.create");
        assertThat(create.get("resource").asText()).isEqualTo("project:audited-app");
        assertThat(create.get("actor_key_id").asText()).isEqualTo(writerId);
        assertThat(create.get("remote_ip").asText()).isEqualTo("127.0.0.1");
        assertThat(create.get("time").asText()).endsWith("Z");

        JsonNode delete = eventWithRequestId("audit-delete-1");
        assertThat(delete.get("action").asText()).isEqualTo("project.delete");
        assertThat(delete.get("resource").asText()).isEqualTo("project:audited-app");
        assertThat(delete.get("actor_key_id").asText()).isEqualTo(adminId);
        assertThat(delete.get("remote_ip").asText()).isEqualTo("127.0.0.1");
    }

    @Test
    void key_create_and_revoke_are_audited_with_the_generated_request_id() {
        Response created = server.post("/api_keys", server.adminKey(), "{\"name\":\"audited-key\",\"scopes\":[\"read\"]}");
        String id = created.json().at("/api_key/id").asText();
        Response revoked = server.delete("/api_keys/" + id, server.adminKey());
        assertThat(revoked.status()).isEqualTo(204);

        JsonNode create = eventWithRequestId(created.header("X-Request-Id"));
        assertThat(create.get("action").asText()).isEqualTo("api_key.create");
        assertThat(create.get("resource").asText()).isEqualTo("api_key:" + id);
        assertThat(create.get("actor_key_id").asText()).isEqualTo(adminId);
        assertThat(create.get("remote_ip").asText()).isEqualTo("127.0.0.1");

        JsonNode revoke = eventWithRequestId(revoked.header("X-Request-Id"));
        assertThat(revoke.get("action").asText()).isEqualTo("api_key.revoke");
        assertThat(revoke.get("resource").asText()).isEqualTo("api_key:" + id);
        assertThat(revoke.get("actor_key_id").asText()).isEqualTo(adminId);
    }

    @Test
    void bootstrap_events_name_the_operator_not_a_key() {
        List<JsonNode> all = events("/audit_events?limit=1000");
        JsonNode orgCreate = all.stream().filter(e -> e.get("action").asText().equals("org.create")).findFirst().orElseThrow();
        assertThat(orgCreate.get("resource").asText()).isEqualTo("org:default");
        assertThat(orgCreate.get("actor_key_id").isNull()).isTrue();
    }

    @Test
    void events_are_listed_newest_first() {
        server.post("/agent_projects", writer, "{\"name\":\"order-one\"}");
        server.post("/agent_projects", writer, "{\"name\":\"order-two\"}");

        List<JsonNode> all = events("/audit_events");
        assertThat(all.get(0).get("resource").asText()).isEqualTo("project:order-two");
        assertThat(all.get(1).get("resource").asText()).isEqualTo("project:order-one");
        for (int i = 1; i < all.size(); i++) {
            assertThat(all.get(i).get("id").asLong()).isLessThan(all.get(i - 1).get("id").asLong());
            assertThat(all.get(i).get("time").asText()).isLessThanOrEqualTo(all.get(i - 1).get("time").asText());
        }
    }

    @Test
    void limit_returns_the_newest_events() {
        server.post("/agent_projects", writer, "{\"name\":\"limit-one\"}");
        server.post("/agent_projects", writer, "{\"name\":\"limit-two\"}");
        List<JsonNode> all = events("/audit_events");

        List<JsonNode> two = events("/audit_events?limit=2");

        assertThat(all.size()).isGreaterThan(2);
        assertThat(two).containsExactly(all.get(0), all.get(1));
        assertThat(events("/audit_events?limit=1")).containsExactly(all.get(0));
    }

    @Test
    void bad_limit_is_400() {
        for (String limit : new String[] {"0", "-1", "abc", "1001", "1.5", "99999999999"}) {
            Response response = server.get("/audit_events?limit=" + limit, server.adminKey());
            assertThat(response.status()).as("limit=%s", limit).isEqualTo(400);
            assertThat(response.json().get("error").asText()).isEqualTo("bad_request");
        }
    }

    @Test
    void a_refused_change_appends_no_event() {
        assertThat(server.post("/agent_projects", writer, "{\"name\":\"refused-twice\"}").status()).isEqualTo(201);
        long before = auditRows();

        assertThat(server.post("/agent_projects", writer, "{\"name\":\"refused-twice\"}").status()).isEqualTo(409);
        assertThat(server.post("/agent_projects", writer, "{\"name\":\"Not Valid\"}").status()).isEqualTo(400);
        assertThat(server.delete("/agent_projects/never-there", server.adminKey()).status()).isEqualTo(404);

        assertThat(auditRows()).isEqualTo(before);
    }

    @Test
    void project_create_rolls_back_when_its_event_cannot_be_appended() {
        withAuditInsertFailingFor("project.create", () -> {
            assertThat(server.post("/agent_projects", writer, "{\"name\":\"half-made\"}").status()).isEqualTo(500);
        });
        assertThat(server.get("/agent_projects/half-made", writer).status()).isEqualTo(404);
        assertThat(server.post("/agent_projects", writer, "{\"name\":\"half-made\"}").status()).isEqualTo(201);
    }

    @Test
    void project_delete_rolls_back_when_its_event_cannot_be_appended() {
        assertThat(server.post("/agent_projects", writer, "{\"name\":\"hard-to-kill\"}").status()).isEqualTo(201);
        withAuditInsertFailingFor("project.delete", () -> {
            assertThat(server.delete("/agent_projects/hard-to-kill", server.adminKey()).status()).isEqualTo(500);
        });
        assertThat(server.get("/agent_projects/hard-to-kill", writer).status()).isEqualTo(200);
    }

    @Test
    void key_create_rolls_back_when_its_event_cannot_be_appended() {
        long keys = count("SELECT COUNT(*) FROM api_keys");
        withAuditInsertFailingFor("api_key.create", () -> {
            Response response = server.post("/api_keys", server.adminKey(), "{\"name\":\"ghost\",\"scopes\":[\"read\"]}");
            assertThat(response.status()).isEqualTo(500);
            assertThat(response.body()).doesNotContain("kt_live_");
        });
        assertThat(count("SELECT COUNT(*) FROM api_keys")).isEqualTo(keys);
    }

    @Test
    void key_revoke_rolls_back_when_its_event_cannot_be_appended() {
        String survivor = server.createKey("survivor", "read");
        String id = keyId(survivor);
        withAuditInsertFailingFor("api_key.revoke", () -> {
            assertThat(server.delete("/api_keys/" + id, server.adminKey()).status()).isEqualTo(500);
        });
        assertThat(server.get("/whoami", survivor).status()).isEqualTo(200);
        assertThat(count("SELECT COUNT(*) FROM api_keys WHERE revoked_at IS NULL AND id = '" + id + "'")).isEqualTo(1);
    }

    @Test
    void audit_table_refuses_update_and_delete() {
        server.post("/agent_projects", writer, "{\"name\":\"tamper-proof\"}");
        List<JsonNode> before = events("/audit_events?limit=1000");

        assertThatThrownBy(() -> db.execute("UPDATE audit_events SET action = 'forged'"))
                .hasMessageContaining("append-only");
        assertThatThrownBy(() -> db.execute("DELETE FROM audit_events WHERE resource = 'project:tamper-proof'"))
                .hasMessageContaining("append-only");
        assertThatThrownBy(() -> db.inTransaction(h -> h.execute("DELETE FROM audit_events")))
                .hasMessageContaining("append-only");

        assertThat(events("/audit_events?limit=1000")).isEqualTo(before);
    }

    /** Makes appending events of {@code action} fail (a schema trigger) while {@code work} runs. */
    private static void withAuditInsertFailingFor(String action, Runnable work) {
        boolean postgres = db.dialect() == Dialect.POSTGRES;
        if (postgres) {
            db.execute("CREATE FUNCTION test_audit_insert_fails() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
                    + "RAISE EXCEPTION 'audit append failed in test'; END $$");
            db.execute("CREATE TRIGGER test_audit_insert_fails BEFORE INSERT ON audit_events FOR EACH ROW WHEN "
                    + "(NEW.action = '" + action + "') EXECUTE FUNCTION test_audit_insert_fails()");
        } else {
            db.execute("CREATE TRIGGER test_audit_insert_fails BEFORE INSERT ON audit_events WHEN NEW.action = '"
                    + action + "' BEGIN SELECT RAISE(ABORT, 'audit append failed in test'); END");
        }
        try {
            work.run();
        } finally {
            db.execute(postgres ? "DROP TRIGGER test_audit_insert_fails ON audit_events" : "DROP TRIGGER test_audit_insert_fails");
            if (postgres) {
                db.execute("DROP FUNCTION test_audit_insert_fails()");
            }
        }
    }

    private static long auditRows() {
        return count("SELECT COUNT(*) FROM audit_events");
    }

    private static long count(String sql) {
        Long count = db.withHandle(h -> h.createQuery(sql).mapTo(Long.class).one());
        return count;
    }

    private static JsonNode eventWithRequestId(String requestId) {
        return events("/audit_events?limit=1000").stream()
                .filter(e -> requestId.equals(e.path("request_id").asText()))
                .findFirst()
                .orElseThrow(() -> new AssertionError("no event with request id " + requestId));
    }

    private static List<JsonNode> events(String path) {
        Response response = server.get(path, server.adminKey());
        assertThat(response.status()).as(response.body()).isEqualTo(200);
        List<JsonNode> out = new ArrayList<>();
        response.json().get("events").forEach(out::add);
        return out;
    }

    private static String keyId(String secret) {
        return server.get("/whoami", secret).json().at("/key/id").asText();
    }
}
