package dev.karta.server.config;

import static org.assertj.core.api.Assertions.assertThat;

import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.classic.spi.ThrowableProxyUtil;
import ch.qos.logback.core.read.ListAppender;
import com.fasterxml.jackson.databind.JsonNode;
import dev.karta.server.store.Database;
import dev.karta.server.testkit.EachDatabase;
import dev.karta.server.testkit.TarBuilder;
import dev.karta.server.testkit.TestDatabase;
import dev.karta.server.testkit.TestServer;
import dev.karta.server.testkit.TestServer.Response;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.http.HttpRequest;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.Parameter;
import org.junit.jupiter.params.ParameterizedClass;
import org.junit.jupiter.params.provider.ArgumentsSource;
import org.slf4j.LoggerFactory;

/**
 * Config vars through the real API: a change makes a release with the same tree and the new set,
 * a rollback brings back the set of its target, deploys snapshot the current set, every rule has
 * a precise error that never quotes a value, and no value reaches the database in plain text, the
 * server log, the project log, the audit log or an answer that did not ask for it.
 */
@ParameterizedClass(name = "on {0}")
@ArgumentsSource(EachDatabase.class)
class ConfigTest {
    private static final String SECRET = "sk-ant-" + "Zq8".repeat(12);

    @Parameter
    TestDatabase database;
    @TempDir
    Path dataDir;

    private TestServer server;
    private String admin;

    @BeforeEach
    void start() {
        server = database.start(dataDir);
        admin = server.adminKey();
    }

    @AfterEach
    void stop() {
        server.close();
    }

    @Test
    void a_config_change_makes_a_release_with_the_same_tree_and_rollback_restores_the_config() {
        publish("shop", "one");
        JsonNode v1 = release("shop", "v1");

        Response set = patch("shop", "{\"set\":{\"ANTHROPIC_API_KEY\":\"" + SECRET + "\",\"MODE\":\"fast\"}}");
        assertThat(set.status()).as(set.body()).isEqualTo(200);
        assertThat(set.json().get("new_release").asText()).isEqualTo("v2");
        assertThat(set.json().get("release").asText()).isEqualTo("v2");
        assertThat(set.json().get("vars").toString()).isEqualTo("{\"ANTHROPIC_API_KEY\":null,\"MODE\":null}");

        JsonNode v2 = release("shop", "v2");
        assertThat(v2.get("source").asText()).isEqualTo("config");
        assertThat(v2.get("status").asText()).isEqualTo("active");
        for (String field : List.of("commit_sha", "content_digest", "harness", "build_kind", "image_ref", "deploy_id")) {
            assertThat(v2.get(field)).as(field).isEqualTo(v1.get(field));
        }
        assertThat(v2.get("description").asText()).isEqualTo("Set ANTHROPIC_API_KEY, MODE");
        assertThat(v2.get("config_digest").asText()).startsWith("hmac-sha256:");
        assertThat(v1.get("config_digest").isNull()).isTrue();
        assertThat(active("shop")).isEqualTo("v2");

        Response changed = patch("shop", "{\"set\":{\"MODE\":\"slow\"},\"unset\":[\"ANTHROPIC_API_KEY\"]}");
        assertThat(changed.json().get("new_release").asText()).isEqualTo("v3");
        assertThat(release("shop", "v3").get("description").asText()).isEqualTo("Set MODE; unset ANTHROPIC_API_KEY");
        assertThat(revealed("shop").toString()).isEqualTo("{\"MODE\":\"slow\"}");

        rollback("shop", "v2");
        assertThat(revealed("shop").toString())
                .isEqualTo("{\"ANTHROPIC_API_KEY\":\"" + SECRET + "\",\"MODE\":\"fast\"}");
        JsonNode shown = server.get("/agent_projects/shop/config", admin).json();
        assertThat(shown.get("release").asText()).isEqualTo("v2");
        assertThat(shown.get("vars").toString()).isEqualTo("{\"ANTHROPIC_API_KEY\":null,\"MODE\":null}");

        rollback("shop", "v1");
        assertThat(revealed("shop").toString()).isEqualTo("{}");

        rollback("shop", "v2");
        publish("shop", "two");
        JsonNode v4 = release("shop", "v4");
        assertThat(v4.get("source").asText()).isEqualTo("upload");
        assertThat(v4.get("config_digest")).as("a deploy keeps the current config").isEqualTo(v2.get("config_digest"));
        assertThat(revealed("shop").toString()).contains(SECRET);
    }

    @Test
    void a_change_that_changes_nothing_makes_no_release() {
        publish("shop", "one");
        patch("shop", "{\"set\":{\"A\":\"1\"}}");
        Response same = patch("shop", "{\"set\":{\"A\":\"1\"},\"unset\":[\"NEVER_SET\"]}");
        assertThat(same.status()).isEqualTo(200);
        assertThat(same.json().get("new_release").isNull()).isTrue();
        assertThat(same.json().get("release").asText()).isEqualTo("v2");
        assertThat(server.get("/agent_projects/shop/releases", admin).json().get("releases")).hasSize(2);
    }

    @Test
    void equal_configs_have_equal_digests() {
        publish("shop", "one");
        patch("shop", "{\"set\":{\"A\":\"1\",\"B\":\"2\"}}");
        patch("shop", "{\"unset\":[\"A\"]}");
        patch("shop", "{\"set\":{\"A\":\"1\"}}");
        assertThat(release("shop", "v4").get("config_digest")).isEqualTo(release("shop", "v2").get("config_digest"));
        assertThat(release("shop", "v3").get("config_digest")).isNotEqualTo(release("shop", "v2").get("config_digest"));
    }

    @Test
    void config_set_before_the_first_release_goes_into_it() {
        assertThat(server.post("/agent_projects", admin, "{\"name\":\"fresh\"}").status()).isEqualTo(201);
        Response set = patch("fresh", "{\"set\":{\"NPM_TOKEN\":\"" + SECRET + "\"}}");
        assertThat(set.status()).as(set.body()).isEqualTo(200);
        assertThat(set.json().get("new_release").isNull()).isTrue();
        assertThat(set.json().get("release").isNull()).isTrue();

        publish("fresh", "one");
        assertThat(release("fresh", "v1").get("config_digest").asText()).startsWith("hmac-sha256:");
        assertThat(revealed("fresh").toString()).isEqualTo("{\"NPM_TOKEN\":\"" + SECRET + "\"}");
    }

    @Test
    void idempotency_key_replays_the_change_once() {
        publish("shop", "one");
        HttpRequest.Builder request = server.request("/agent_projects/shop/config", admin)
                .header("Content-Type", "application/json").header("Idempotency-Key", "cfg-1")
                .method("PATCH", HttpRequest.BodyPublishers.ofString("{\"set\":{\"A\":\"1\"}}"));
        Response first = server.send(request);
        Response again = server.send(request);
        assertThat(again.body()).isEqualTo(first.body());
        assertThat(again.header("Idempotent-Replayed")).isEqualTo("true");
        assertThat(server.get("/agent_projects/shop/releases", admin).json().get("releases")).hasSize(2);
    }

    @Test
    void read_keys_see_names_and_only_admins_see_values() {
        publish("shop", "one");
        patch("shop", "{\"set\":{\"ANTHROPIC_API_KEY\":\"" + SECRET + "\"}}");
        String reader = server.createKey("reader", "read");
        String writer = server.createKey("writer", "write");

        Response names = server.get("/agent_projects/shop/config", reader);
        assertThat(names.status()).isEqualTo(200);
        assertThat(names.json().get("vars").toString()).isEqualTo("{\"ANTHROPIC_API_KEY\":null}");
        assertThat(server.get("/agent_projects/shop/config?reveal=true", reader).status()).isEqualTo(403);
        assertThat(server.get("/agent_projects/shop/config?reveal=true", writer).status()).isEqualTo(403);
        assertThat(server.get("/agent_projects/shop/config?reveal=true", writer).body()).doesNotContain(SECRET);
        assertThat(server.patch("/agent_projects/shop/config", reader, "{\"set\":{\"B\":\"1\"}}").status())
                .isEqualTo(403);
        assertThat(server.patch("/agent_projects/shop/config", writer, "{\"set\":{\"B\":\"1\"}}").status())
                .isEqualTo(200);
        assertThat(server.get("/agent_projects/shop/config?reveal=true", admin).body()).contains(SECRET);
        String other = server.createOrg("rival");
        assertThat(server.get("/agent_projects/shop/config", other).status()).isEqualTo(404);
        assertThat(server.patch("/agent_projects/shop/config", other, "{\"set\":{\"B\":\"2\"}}").status())
                .isEqualTo(404);
    }

    @Test
    void every_rule_has_a_precise_error_that_names_the_variable_and_never_the_value() {
        publish("shop", "one");
        String big = SECRET + "x".repeat(32 * 1024);
        expect("{\"set\":{\"lower\":\"" + SECRET + "\"}}", 422, "invalid_config_name", "'lower'");
        expect("{\"set\":{\"9LIVES\":\"" + SECRET + "\"}}", 422, "invalid_config_name", "'9LIVES'");
        expect("{\"set\":{\"" + "A".repeat(65) + "\":\"" + SECRET + "\"}}", 422, "invalid_config_name", "65 characters");
        expect("{\"set\":{\"KARTA_TOKEN\":\"" + SECRET + "\"}}", 422, "config_name_reserved", "KARTA_TOKEN");
        expect("{\"set\":{\"LD_PRELOAD\":\"" + SECRET + "\"}}", 422, "config_name_reserved", "LD_PRELOAD");
        expect("{\"set\":{\"HOME\":\"" + SECRET + "\"}}", 422, "config_name_reserved", "HOME");
        expect("{\"set\":{\"BIG\":\"" + big + "\"}}", 422, "config_value_too_large", "BIG");
        expect("{\"set\":{\"NUL\":\"" + SECRET + "\\u0000\"}}", 422, "invalid_config_value", "NUL");
        expect("{\"set\":{\"A\":\"" + SECRET + "\"},\"unset\":[\"A\"]}", 422, "config_conflict", "A is both");
        expect("{}", 400, "bad_request", "nothing to change");
        expect("{\"set\":{}}", 400, "bad_request", "nothing to change");
        expect("{\"set\":{\"A\":null}}", 400, "bad_request", "unset");
        expect("{\"set\":{\"A\":[\"" + SECRET + "\"]}}", 400, "bad_request", "value of A");
        expect("{\"set\":{\"A\":" + SECRET + "}}", 400, "malformed_json", "line 1");
        expect("{\"set\":{\"A\":\"" + SECRET + "\"", 400, "malformed_json", "line 1");
        expect("{\"sett\":{\"A\":\"" + SECRET + "\"}}", 400, "bad_request", "'sett'");
        expect("{\"unset\":\"A\"}", 400, "bad_request", "array");

        StringBuilder many = new StringBuilder("{\"set\":{");
        for (int i = 0; i < 200; i++) {
            many.append(i == 0 ? "" : ",").append("\"V").append(i).append("\":\"x\"");
        }
        assertThat(patch("shop", many.append("}}").toString()).status()).as("200 vars are allowed").isEqualTo(200);
        expect("{\"set\":{\"ONE_MORE\":\"" + SECRET + "\"}}", 422, "too_many_config_vars", "at most 200");
        assertThat(server.get("/agent_projects/shop/releases", admin).json().get("releases"))
                .as("nothing refused made a release").hasSize(2);
    }

    @Test
    void values_are_never_stored_in_plain_text_nor_logged_nor_audited() throws Exception {
        Logger root = (Logger) LoggerFactory.getLogger(org.slf4j.Logger.ROOT_LOGGER_NAME);
        ListAppender<ILoggingEvent> log = new ListAppender<>();
        log.start();
        root.addAppender(log);
        try {
            publish("shop", "one");
            patch("shop", "{\"set\":{\"ANTHROPIC_API_KEY\":\"" + SECRET + "\"}}");
            HttpRequest.Builder keyed = server.request("/agent_projects/shop/config", admin)
                    .header("Content-Type", "application/json").header("Idempotency-Key", "k1")
                    .method("PATCH", HttpRequest.BodyPublishers.ofString("{\"set\":{\"OTHER\":\"" + SECRET + "\"}}"));
            assertThat(server.send(keyed).status()).isEqualTo(200);
            rollback("shop", "v2");
            publish("shop", "two");
            patch("shop", "{\"set\":{\"lower\":\"" + SECRET + "\"}}");

            String logs = server.get("/agent_projects/shop/logs?limit=1000", admin).body();
            assertThat(logs).contains("Set ANTHROPIC_API_KEY (v2)").doesNotContain(SECRET);
            String audit = server.get("/audit_events", admin).body();
            assertThat(audit).contains("config.set").contains("project:shop/v2 Set ANTHROPIC_API_KEY")
                    .doesNotContain(SECRET);
            assertThat(server.get("/metrics", null).body()).doesNotContain(SECRET);
            assertThat(server.get("/agent_projects/shop/releases", admin).body()).doesNotContain(SECRET);
            assertThat(server.get("/agent_projects/shop", admin).body()).doesNotContain(SECRET);
            assertThat(everyRow()).doesNotContain(SECRET).contains("config.set");
            if (!database.isPostgres()) {
                assertThat(filesContaining(dataDir, SECRET)).as("while running").isEmpty();
            }
        } finally {
            root.detachAppender(log);
        }
        assertThat(log.list).as("the server log was captured").isNotEmpty();
        assertThat(log.list.stream().map(ConfigTest::fullText)).noneMatch(line -> line.contains(SECRET));
        server.close();
        if (!database.isPostgres()) {
            assertThat(filesContaining(dataDir, SECRET)).as("after shutdown").isEmpty();
            assertThat(filesContaining(dataDir, "config.set")).as("the database was searched").isNotEmpty();
        }
        server = database.start(dataDir);
        assertThat(revealed("shop").toString()).as("readable after a restart").contains(SECRET);
    }

    private void expect(String body, int status, String code, String mention) {
        Response r = patch("shop", body);
        assertThat(r.status()).as(body.length() > 200 ? body.substring(0, 200) : body + " → " + r.body())
                .isEqualTo(status);
        assertThat(r.json().get("error").asText()).isEqualTo(code);
        assertThat(r.json().get("message").asText()).contains(mention).doesNotContain(SECRET)
                .doesNotContain(SECRET.substring(0, 10));
    }

    private Response patch(String project, String body) {
        return server.patch("/agent_projects/" + project + "/config", admin, body);
    }

    private JsonNode revealed(String project) {
        Response r = server.get("/agent_projects/" + project + "/config?reveal=true", admin);
        assertThat(r.status()).as(r.body()).isEqualTo(200);
        return r.json().get("vars");
    }

    private JsonNode release(String project, String version) {
        Response r = server.get("/agent_projects/" + project + "/releases/" + version, admin);
        assertThat(r.status()).as(r.body()).isEqualTo(200);
        return r.json();
    }

    private String active(String project) {
        return server.get("/agent_projects/" + project, admin).json().at("/current_release/version").asText();
    }

    private void rollback(String project, String version) {
        Response r = server.post("/agent_projects/" + project + "/rollback", admin, "{\"to\":\"" + version + "\"}");
        assertThat(r.status()).as(r.body()).isEqualTo(200);
    }

    private void publish(String project, String content) {
        Response accepted = server.send(server.request("/agent_projects/" + project + "/releases", admin)
                .header("Content-Type", "application/gzip")
                .POST(HttpRequest.BodyPublishers.ofByteArray(TarBuilder.app(content))));
        assertThat(accepted.status()).as(accepted.body()).isEqualTo(202);
        String id = accepted.json().get("id").asText();
        Awaitility.await().atMost(Duration.ofSeconds(30)).pollInterval(Duration.ofMillis(25)).until(() ->
                !server.get("/agent_projects/" + project + "/deploys/" + id, admin).json().get("status").asText()
                        .matches("queued|building"));
        assertThat(server.get("/agent_projects/" + project + "/deploys/" + id, admin).json().get("status").asText())
                .isEqualTo("succeeded");
    }

    /** Every row of every table, as text (PostgreSQL: {@code t::text}; SQLite: every column). */
    private String everyRow() {
        try (Database db = server.openDatabase()) {
            return db.withHandle(h -> {
                StringBuilder all = new StringBuilder();
                List<String> tables = database.isPostgres()
                        ? h.select("SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'")
                        .mapTo(String.class).list()
                        : h.select("SELECT name FROM sqlite_master WHERE type = 'table'").mapTo(String.class).list();
                for (String table : tables) {
                    if (database.isPostgres()) {
                        h.select("SELECT t::text FROM \"" + table + "\" t").mapTo(String.class)
                                .forEach(row -> all.append(row).append('\n'));
                    } else {
                        h.select("SELECT * FROM \"" + table + "\"").mapToMap()
                                .forEach(row -> all.append(row).append('\n'));
                    }
                }
                return all.toString();
            });
        }
    }

    private static String fullText(ILoggingEvent event) {
        String thrown = event.getThrowableProxy() == null ? "" : ThrowableProxyUtil.asString(event.getThrowableProxy());
        return event.getFormattedMessage() + " " + event.getMDCPropertyMap() + " " + thrown;
    }

    /** Files under {@code dir} whose bytes contain {@code text} (ASCII, as SQLite stores it). */
    static List<Path> filesContaining(Path dir, String text) {
        byte[] needle = text.getBytes(StandardCharsets.US_ASCII);
        List<Path> hits = new ArrayList<>();
        try (Stream<Path> files = Files.walk(dir)) {
            for (Path file : files.filter(Files::isRegularFile).toList()) {
                if (indexOf(Files.readAllBytes(file), needle) >= 0) {
                    hits.add(file);
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return hits;
    }

    private static int indexOf(byte[] haystack, byte[] needle) {
        outer:
        for (int i = 0; i <= haystack.length - needle.length; i++) {
            for (int j = 0; j < needle.length; j++) {
                if (haystack[i + j] != needle[j]) {
                    continue outer;
                }
            }
            return i;
        }
        return -1;
    }
}
