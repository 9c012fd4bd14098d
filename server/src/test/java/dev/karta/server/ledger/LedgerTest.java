package dev.karta.server.ledger;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.karta.server.audit.AuditLog;
import dev.karta.server.http.Actor;
import dev.karta.server.store.Database;
import dev.karta.server.store.Dialect;
import dev.karta.server.testkit.EachDatabase;
import dev.karta.server.testkit.TarBuilder;
import dev.karta.server.testkit.TestDatabase;
import dev.karta.server.testkit.TestServer;
import dev.karta.server.testkit.TestServer.Response;
import java.io.IOException;
import java.net.http.HttpRequest;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.AfterParameterizedClassInvocation;
import org.junit.jupiter.params.BeforeParameterizedClassInvocation;
import org.junit.jupiter.params.Parameter;
import org.junit.jupiter.params.ParameterizedClass;
import org.junit.jupiter.params.provider.ArgumentsSource;

/**
 * The ledger through the API: audit events and releases chained, verification naming a row edited
 * (or removed) directly in the database, and an export that the script of docs/audit.md verifies
 * offline. Each test works in an org of its own, so one test's tampering breaks no other's chain.
 */
@ParameterizedClass(name = "on {0}")
@ArgumentsSource(EachDatabase.class)
class LedgerTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final Path AUDIT_DOC = Path.of("..", "docs", "audit.md");

    @Parameter
    TestDatabase database;
    @TempDir
    static Path temp;
    @TempDir
    Path work;
    static TestServer server;
    static Database db;
    static int orgs;

    @BeforeParameterizedClassInvocation
    static void start(TestDatabase database) {
        server = database.startUnder(temp);
        db = server.openDatabase();
    }

    @AfterParameterizedClassInvocation
    static void stop() {
        db.close();
        server.close();
    }

    @Test
    void audit_events_and_releases_are_chained_and_verify_counts_them_all() {
        String admin = newOrg();
        publish(admin, "chained", "one", "idem-chained-1");
        publish(admin, "chained", "two", null);
        server.post("/agent_projects/chained/rollback", admin, "{\"to\":\"v1\"}");

        List<JsonNode> events = events(admin);
        assertThat(events).extracting(e -> e.get("action").asText())
                .contains("org.create", "project.create", "deploy.create", "release.activate", "release.rollback");
        // Oldest first: each event follows the one before it; the first follows the genesis value.
        assertThat(events.get(0).get("prev_hash").asText()).isEqualTo(Ledger.GENESIS);
        for (int i = 1; i < events.size(); i++) {
            assertThat(events.get(i).get("prev_hash").asText()).isEqualTo(events.get(i - 1).get("hash").asText());
        }
        assertThat(events).allSatisfy(e -> assertThat(e.get("hash").asText()).matches("sha256:[0-9a-f]{64}"));

        JsonNode v1 = server.get("/agent_projects/chained/releases/v1", admin).json();
        JsonNode v2 = server.get("/agent_projects/chained/releases/v2", admin).json();
        assertThat(v1.get("prev_hash").asText()).isEqualTo(Ledger.GENESIS);
        assertThat(v2.get("prev_hash").asText()).isEqualTo(v1.get("hash").asText());
        assertThat(v1.get("trigger").asText()).isEqualTo("upload");
        assertThat(v1.get("idempotency_key").asText()).isEqualTo("idem-chained-1");
        assertThat(v2.get("idempotency_key").isNull()).isTrue();
        assertThat(v1.get("actor_key_id").asText()).isEqualTo(keyId(admin));

        JsonNode verified = verify(admin);
        assertThat(verified.get("ok").asBoolean()).as(verified.toString()).isTrue();
        assertThat(verified.get("checked").asLong()).isEqualTo(events.size() + 2);
        assertThat(verified.has("first_break")).isFalse();
    }

    @Test
    void concurrent_changes_of_one_org_append_one_unbroken_chain() throws Exception {
        String admin = newOrg();
        ExecutorService pool = Executors.newFixedThreadPool(8);
        try {
            List<Future<Integer>> created = new ArrayList<>();
            for (int i = 0; i < 24; i++) {
                String name = "race-" + i;
                created.add(pool.submit(() -> server.post("/agent_projects", admin, "{\"name\":\"" + name + "\"}")
                        .status()));
            }
            for (Future<Integer> status : created) {
                assertThat(status.get()).isEqualTo(201);
            }
        } finally {
            pool.shutdownNow();
        }
        JsonNode verified = verify(admin);
        assertThat(verified.get("ok").asBoolean()).as(verified.toString()).isTrue();
        assertThat(verified.get("checked").asLong()).isEqualTo(events(admin).size()).isGreaterThanOrEqualTo(25);
    }

    @Test
    void verify_and_export_walk_chains_longer_than_a_page() {
        String admin = newOrg();
        String org = orgOf(admin);
        int extra = 2 * Chains.PAGE + 7;
        db.inTransaction(h -> {
            AuditLog audit = new AuditLog(db);
            for (int i = 0; i < extra; i++) {
                audit.append(h, new Actor(org, null, "bulk-" + i, "local"), "test.bulk", "bulk:" + i);
            }
            return null;
        });
        long all = countEvents(org);

        assertThat(verify(admin).get("checked").asLong()).isEqualTo(all).isGreaterThan(extra);
        assertThat(server.get("/audit_events/export", admin).body().lines().count()).isEqualTo(all);

        // A break on the third page is found there.
        long third = db.withHandle(h -> h.createQuery("SELECT id FROM audit_events WHERE org_id = :org "
                + "AND request_id = :r").bind("org", org).bind("r", "bulk-" + (2 * Chains.PAGE + 3))
                .mapTo(Long.class).one());
        aroundAppendOnly("UPDATE audit_events SET remote_ip = '10.6.6.6' WHERE id = " + third);
        assertThat(verify(admin).at("/first_break/id").asText()).isEqualTo(Long.toString(third));
    }

    @Test
    void verify_names_a_release_whose_commit_was_edited_in_the_database() {
        String admin = newOrg();
        publish(admin, "edited-release", "one", null);
        publish(admin, "edited-release", "two", null);
        String id = db.withHandle(h -> h.createQuery("SELECT r.id FROM releases r JOIN projects p ON p.id = r.project_id "
                + "WHERE p.name = 'edited-release' AND r.number = 1").mapTo(String.class).one());

        db.execute("UPDATE releases SET commit_sha = ? WHERE id = ?", "0".repeat(40), id);

        JsonNode verified = verify(admin);
        assertThat(verified.get("ok").asBoolean()).isFalse();
        JsonNode broken = verified.get("first_break");
        assertThat(broken.get("kind").asText()).isEqualTo("release");
        assertThat(broken.get("id").asText()).isEqualTo(id);
        assertThat(broken.get("project").asText()).isEqualTo("edited-release");
        assertThat(broken.get("version").asText()).isEqualTo("v1");
        assertThat(broken.get("reason").asText()).contains("changed after it was written");
        assertThat(verified.get("checked").asLong()).isEqualTo(events(admin).size());
    }

    @Test
    void verify_names_an_audit_event_edited_in_the_database() {
        String admin = newOrg();
        server.post("/agent_projects", admin, "{\"name\":\"edited-event-a\"}");
        server.post("/agent_projects", admin, "{\"name\":\"edited-event-b\"}");
        long id = events(admin).stream().filter(e -> e.get("resource").asText().equals("project:edited-event-a"))
                .findFirst().orElseThrow().get("id").asLong();

        aroundAppendOnly("UPDATE audit_events SET resource = 'project:innocent' WHERE id = " + id);

        JsonNode broken = verify(admin).get("first_break");
        assertThat(broken.get("kind").asText()).isEqualTo("audit_event");
        assertThat(broken.get("id").asText()).isEqualTo(Long.toString(id));
        assertThat(broken.has("project")).isFalse();
        assertThat(broken.get("reason").asText()).contains("changed after it was written");
    }

    @Test
    void verify_names_the_event_after_one_removed_from_the_database() {
        String admin = newOrg();
        server.post("/agent_projects", admin, "{\"name\":\"removed-a\"}");
        server.post("/agent_projects", admin, "{\"name\":\"removed-b\"}");
        List<JsonNode> events = events(admin);
        long removed = events.get(events.size() - 2).get("id").asLong();
        long next = events.get(events.size() - 1).get("id").asLong();

        aroundAppendOnly("DELETE FROM audit_events WHERE id = " + removed);

        JsonNode verified = verify(admin);
        assertThat(verified.get("ok").asBoolean()).isFalse();
        assertThat(verified.at("/first_break/id").asText()).isEqualTo(Long.toString(next));
        assertThat(verified.at("/first_break/reason").asText()).contains("removed");
    }

    @Test
    void verify_names_a_row_inserted_without_hash() {
        String admin = newOrg();
        String org = orgOf(admin);
        aroundAppendOnly("INSERT INTO audit_events (org_id, action, resource, created_at) VALUES ('" + org
                + "', 'api_key.create', 'api_key:forged', 0)");

        JsonNode broken = verify(admin).get("first_break");
        assertThat(broken.get("reason").asText()).contains("no hash");
        // The next append follows the last sealed event, not the forged one; the break stays named.
        server.post("/agent_projects", admin, "{\"name\":\"after-forgery\"}");
        assertThat(verify(admin).get("first_break")).isEqualTo(broken);
    }

    @Test
    void the_database_refuses_a_fork_of_a_chain() {
        String admin = newOrg();
        JsonNode first = events(admin).get(0);
        assertThatThrownBy(() -> db.execute("INSERT INTO audit_events (org_id, action, resource, created_at, prev_hash, "
                + "hash) VALUES (?, 'forged', 'x', 0, ?, 'sha256:forged')", orgOf(admin), first.get("prev_hash").asText()))
                .satisfies(e -> assertThat(Database.isUniqueViolation(e)).isTrue());

        publish(admin, "forked", "one", null);
        assertThatThrownBy(() -> db.execute("INSERT INTO releases (id, project_id, number, commit_sha, harness, build_kind, "
                + "image_ref, content_digest, source, deploy_id, created_at, prev_hash, hash) SELECT 'rel_forged', "
                + "project_id, 2, commit_sha, harness, build_kind, image_ref, content_digest, source, deploy_id, "
                + "created_at, prev_hash, 'sha256:forged' FROM releases WHERE number = 1 AND project_id = "
                + "(SELECT id FROM projects WHERE name = 'forked')"))
                .satisfies(e -> assertThat(Database.isUniqueViolation(e)).isTrue());
    }

    @Test
    void project_deletion_records_the_hash_of_its_last_release() {
        String admin = newOrg();
        publish(admin, "doomed", "one", null);
        String last = server.get("/agent_projects/doomed/releases/v1", admin).json().get("hash").asText();
        assertThat(server.delete("/agent_projects/doomed", admin).status()).isEqualTo(204);

        JsonNode deletion = events(admin).stream().filter(e -> e.get("action").asText().equals("project.delete"))
                .findFirst().orElseThrow();
        assertThat(deletion.get("release_hash").asText()).isEqualTo(last);
        assertThat(verify(admin).get("ok").asBoolean()).isTrue();
    }

    @Test
    void export_verifies_offline_with_the_script_of_the_docs_and_an_edited_export_does_not()
            throws Exception {
        String admin = newOrg();
        publish(admin, "exported", "one", "idem-exported");
        publish(admin, "exported", "two", null);
        Response export = server.get("/audit_events/export", admin);
        assertThat(export.status()).isEqualTo(200);
        assertThat(export.header("Content-Type")).startsWith("application/x-ndjson");
        List<String> lines = export.body().lines().toList();
        assertThat(lines).hasSize((int) verify(admin).get("checked").asLong());
        assertThat(lines).allSatisfy(line -> assertThat(JSON.readTree(line).get("hash").asText()).startsWith("sha256:"));
        assertThat(lines).anySatisfy(line -> assertThat(line).contains("\"kind\":\"release\"", "\"idempotency_key\":"
                + "\"idem-exported\""));
        Path script = work.resolve("verify-ledger.py");
        Files.writeString(script, scriptOfTheDocs());
        Path intact = work.resolve("export.jsonl");
        Files.writeString(intact, export.body());

        Run good = python(script, intact);
        assertThat(good.exit()).as(good.output()).isZero();
        assertThat(good.output()).contains(lines.size() + " entries verified");

        Path edited = work.resolve("edited.jsonl");
        Files.writeString(edited, export.body().replaceFirst("\"resource\":\"project:exported\"",
                "\"resource\":\"project:elsewhere\""));
        assertThat(Files.readString(edited)).isNotEqualTo(export.body());
        Run bad = python(script, edited);
        assertThat(bad.exit()).as(bad.output()).isEqualTo(1);
        assertThat(bad.output()).contains("breaks the chain");

        Path gap = work.resolve("gap.jsonl");
        List<String> withoutOne = new ArrayList<>(lines);
        withoutOne.remove(1);
        Files.writeString(gap, String.join("\n", withoutOne) + "\n");
        assertThat(python(script, gap).exit()).isEqualTo(1);
    }

    @Test
    void export_since_leaves_older_entries_out_and_a_bad_since_is_400() {
        String admin = newOrg();
        server.post("/agent_projects", admin, "{\"name\":\"since-app\"}");
        assertThat(server.get("/audit_events/export?since=1h", admin).body().lines().count())
                .isEqualTo(events(admin).size());
        assertThat(server.get("/audit_events/export?since=2999-01-01T00:00:00Z", admin).body()).isEmpty();
        for (String since : new String[] {"yesterday", "-1d", "2026-13-01T00:00:00Z", "1y"}) {
            Response bad = server.get("/audit_events/export?since=" + since, admin);
            assertThat(bad.status()).as(since).isEqualTo(400);
            assertThat(bad.json().get("message").asText()).contains("RFC 3339");
        }
    }

    @Test
    void verify_and_export_are_for_admins_of_the_org_only() {
        String admin = newOrg();
        String writer = server.createKey("ledger-writer", "write");
        assertThat(server.get("/audit_events/verify", writer).status()).isEqualTo(403);
        assertThat(server.get("/audit_events/export", writer).status()).isEqualTo(403);
        // Another org's export holds none of this org's entries.
        String org = orgOf(admin);
        assertThat(server.get("/audit_events/export", server.adminKey()).body()).doesNotContain(org);
    }

    // ---- helpers ----

    private static String newOrg() {
        return server.createOrg("ledger-" + (++orgs));
    }

    private void publish(String key, String project, String marker, String idempotencyKey) {
        HttpRequest.Builder request = server.request("/agent_projects/" + project + "/releases", key)
                .header("Content-Type", "application/gzip")
                .POST(HttpRequest.BodyPublishers.ofByteArray(TarBuilder.app(marker)));
        if (idempotencyKey != null) {
            request.header("Idempotency-Key", idempotencyKey);
        }
        Response accepted = server.send(request);
        assertThat(accepted.status()).as(accepted.body()).isEqualTo(202);
        String deploy = accepted.json().get("id").asText();
        await().atMost(Duration.ofSeconds(30)).pollInterval(Duration.ofMillis(25)).until(() -> {
            String status = server.get("/agent_projects/" + project + "/deploys/" + deploy, key).json()
                    .get("status").asText();
            return status.equals("succeeded");
        });
    }

    /** The org's events, oldest first. */
    private static List<JsonNode> events(String admin) {
        Response response = server.get("/audit_events?limit=1000", admin);
        assertThat(response.status()).as(response.body()).isEqualTo(200);
        List<JsonNode> out = new ArrayList<>();
        response.json().get("events").forEach(e -> out.add(0, e));
        return out;
    }

    private static JsonNode verify(String admin) {
        Response response = server.get("/audit_events/verify", admin);
        assertThat(response.status()).as(response.body()).isEqualTo(200);
        return response.json();
    }

    private static long countEvents(String org) {
        return db.withHandle(h -> h.createQuery("SELECT COUNT(*) FROM audit_events WHERE org_id = :org")
                .bind("org", org).mapTo(Long.class).one());
    }

    private static String keyId(String secret) {
        return server.get("/whoami", secret).json().at("/key/id").asText();
    }

    private static String orgOf(String secret) {
        return db.withHandle(h -> h.createQuery("SELECT org_id FROM api_keys WHERE id = :id")
                .bind("id", keyId(secret)).mapTo(String.class).one());
    }

    /**
     * Runs {@code sql} on audit_events with the append-only trigger out of the way, as the table's
     * owner can: disabled on PostgreSQL, dropped and recreated on SQLite.
     */
    private static void aroundAppendOnly(String sql) {
        if (db.dialect() == Dialect.POSTGRES) {
            db.inTransaction(h -> {
                h.execute("ALTER TABLE audit_events DISABLE TRIGGER audit_events_append_only");
                h.execute(sql);
                h.execute("ALTER TABLE audit_events ENABLE TRIGGER audit_events_append_only");
                return null;
            });
            return;
        }
        db.inTransaction(h -> {
            List<String> triggers = h.createQuery("SELECT sql FROM sqlite_master WHERE type = 'trigger' "
                    + "AND tbl_name = 'audit_events'").mapTo(String.class).list();
            List<String> names = h.createQuery("SELECT name FROM sqlite_master WHERE type = 'trigger' "
                    + "AND tbl_name = 'audit_events'").mapTo(String.class).list();
            assertThat(names).contains("audit_events_append_only_update", "audit_events_append_only_delete");
            names.forEach(name -> h.execute("DROP TRIGGER " + name));
            h.execute(sql);
            triggers.forEach(h::execute);
            return null;
        });
    }

    /** The one python block of docs/audit.md: the script the docs tell users to run. */
    private static String scriptOfTheDocs() throws IOException {
        Matcher block = Pattern.compile("```python\\n(.*?)```", Pattern.DOTALL).matcher(Files.readString(AUDIT_DOC));
        assertThat(block.find()).isTrue();
        String script = block.group(1);
        assertThat(block.find()).as("one python block").isFalse();
        assertThat(script.lines().count()).isLessThanOrEqualTo(10);
        return script;
    }

    private record Run(int exit, String output) {
    }

    private static Run python(Path script, Path export) throws IOException, InterruptedException {
        Process process = new ProcessBuilder("python3", script.toString(), export.toString())
                .redirectErrorStream(true).start();
        String output = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(process.waitFor(30, TimeUnit.SECONDS)).isTrue();
        return new Run(process.exitValue(), output);
    }
}
