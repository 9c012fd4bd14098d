package dev.karta.server.keys;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.classic.spi.ThrowableProxyUtil;
import ch.qos.logback.core.read.ListAppender;
import com.fasterxml.jackson.databind.JsonNode;
import dev.karta.server.store.Database;
import dev.karta.server.testkit.EachDatabase;
import dev.karta.server.testkit.TestDatabase;
import dev.karta.server.testkit.TestServer;
import dev.karta.server.testkit.TestServer.Response;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.Parameter;
import org.junit.jupiter.params.ParameterizedClass;
import org.junit.jupiter.params.provider.ArgumentsSource;
import org.slf4j.LoggerFactory;

/** API keys: shape, storage (digest and prefix only), validation, revocation, last use. */
@ParameterizedClass(name = "on {0}")
@ArgumentsSource(EachDatabase.class)
class ApiKeysTest {
    @Parameter
    TestDatabase database;
    private static final String SHAPE = "kt_live_[A-Za-z0-9]{32}";

    @TempDir
    Path dataDir;
    TestServer server;

    @BeforeEach
    void start() {
        server = database.start(dataDir);
    }

    @AfterEach
    void stop() {
        server.close();
    }

    @Test
    void created_key_has_the_documented_shape_and_a_14_character_prefix() {
        Response created = server.post("/api_keys", server.adminKey(), "{\"name\":\"ci\",\"scopes\":[\"write\"]}");

        assertThat(created.status()).isEqualTo(201);
        String secret = created.json().get("secret").asText();
        assertThat(secret).matches(SHAPE);
        JsonNode key = created.json().get("api_key");
        assertThat(key.get("id").asText()).startsWith("key_");
        assertThat(key.get("name").asText()).isEqualTo("ci");
        assertThat(key.get("scopes").get(0).asText()).isEqualTo("write");
        assertThat(key.get("prefix").asText()).hasSize(14).isEqualTo(secret.substring(0, 14));
        assertThat(key.has("secret")).isFalse();
        assertThat(key.has("digest")).isFalse();
    }

    @Test
    void generated_secrets_differ() {
        assertThat(server.createKey("one", "read")).isNotEqualTo(server.createKey("two", "read"));
    }

    @Test
    void only_a_bcrypt_digest_and_the_prefix_are_stored() {
        String secret = server.createKey("stored", "read");
        String id = server.get("/whoami", secret).json().at("/key/id").asText();

        try (Database db = server.openDatabase()) {
            var row = db.withHandle(h -> h.createQuery("SELECT prefix, digest FROM api_keys WHERE id = :id")
                    .bind("id", id).mapToMap().one());
            assertThat(row.get("prefix")).isEqualTo(secret.substring(0, 14));
            assertThat((String) row.get("digest")).startsWith("$2").doesNotContain(secret.substring(14));
        }
    }

    @Test
    void secret_is_never_at_rest_nor_in_the_server_log() {
        Logger root = (Logger) LoggerFactory.getLogger(org.slf4j.Logger.ROOT_LOGGER_NAME);
        ListAppender<ILoggingEvent> log = new ListAppender<>();
        log.start();
        root.addAppender(log);
        String secret;
        try {
            secret = server.createKey("secretive", "write");
            assertThat(server.get("/whoami", secret).status()).isEqualTo(200);
            assertThat(server.post("/agent_projects", secret, "{\"name\":\"logged-app\"}").status()).isEqualTo(201);
            assertThat(server.get("/api_keys", secret).body()).doesNotContain(secret);
            String id = server.get("/whoami", secret).json().at("/key/id").asText();
            assertThat(server.delete("/api_keys/" + id, server.adminKey()).status()).isEqualTo(204);
            assertThat(server.get("/whoami", secret).status()).isEqualTo(401);
            assertThat(filesContaining(dataDir, secret.substring(14))).as("while running").isEmpty();
        } finally {
            root.detachAppender(log);
        }

        List<String> lines = log.list.stream().map(ApiKeysTest::fullText).toList();
        assertThat(lines).as("the request log was captured").anyMatch(line -> line.contains("/whoami"));
        assertThat(lines).noneMatch(line -> line.contains(secret.substring(14)));
        assertThat(lines).noneMatch(line -> line.contains(server.adminKey().substring(14)));

        server.close();
        assertThat(filesContaining(dataDir, secret.substring(14))).as("after shutdown").isEmpty();
        assertThat(filesContaining(dataDir, server.adminKey().substring(14))).isEmpty();
        if (database.isPostgres()) {
            String rows = everyRow();
            assertThat(rows).doesNotContain(secret.substring(14)).doesNotContain(server.adminKey().substring(14));
            assertThat(rows).as("the prefix is stored").contains(secret.substring(0, 14));
        } else {
            assertThat(filesContaining(dataDir, secret.substring(0, 14))).as("the prefix is stored").isNotEmpty();
        }
    }

    /** Every row of every table of the server's PostgreSQL database, as text. */
    private String everyRow() {
        try (Database db = server.openDatabase()) {
            return db.withHandle(h -> {
                StringBuilder all = new StringBuilder();
                for (String table : h.select("SELECT table_name FROM information_schema.tables "
                        + "WHERE table_schema = 'public'").mapTo(String.class).list()) {
                    h.select("SELECT t::text FROM \"" + table + "\" t").mapTo(String.class).forEach(row -> all.append(row).append('\n'));
                }
                return all.toString();
            });
        }
    }

    @Test
    void revocation_takes_effect_on_the_very_next_request() {
        String secret = server.createKey("short-lived", "write");
        Response first = server.get("/whoami", secret);
        assertThat(first.status()).isEqualTo(200);
        assertThat(server.get("/agent_projects", secret).status()).as("served from the key cache").isEqualTo(200);

        assertThat(server.delete("/api_keys/" + first.json().at("/key/id").asText(), server.adminKey()).status())
                .isEqualTo(204);

        Response after = server.get("/agent_projects", secret);
        assertThat(after.status()).isEqualTo(401);
        assertThat(after.json().get("message").asText()).contains("revoked");
    }

    @Test
    void revoked_key_is_listed_with_revoked_at_and_revoking_again_changes_nothing() {
        String secret = server.createKey("twice", "read");
        String id = server.get("/whoami", secret).json().at("/key/id").asText();

        assertThat(server.delete("/api_keys/" + id, server.adminKey()).status()).isEqualTo(204);
        int events = server.get("/audit_events", server.adminKey()).json().get("events").size();
        assertThat(server.delete("/api_keys/" + id, server.adminKey()).status()).isEqualTo(204);

        assertThat(keyById(id).get("revoked_at").isTextual()).isTrue();
        assertThat(server.get("/audit_events", server.adminKey()).json().get("events").size()).isEqualTo(events);
    }

    @Test
    void revoking_an_unknown_key_is_404() {
        assertThat(server.delete("/api_keys/key_doesnotexist", server.adminKey()).status()).isEqualTo(404);
    }

    @Test
    void last_used_at_is_set_after_use() {
        String secret = server.createKey("user", "read");
        String id = server.get("/api_keys", server.adminKey()).json().findParents("name").stream()
                .filter(key -> key.get("name").asText().equals("user"))
                .findFirst().orElseThrow().get("id").asText();
        assertThat(keyById(id).get("last_used_at").isNull()).isTrue();

        assertThat(server.get("/agent_projects", secret).status()).isEqualTo(200);

        await().atMost(Duration.ofSeconds(5)).untilAsserted(() ->
                assertThat(keyById(id).get("last_used_at").isTextual()).isTrue());
    }

    @Test
    void key_with_a_known_prefix_but_a_wrong_rest_is_rejected() {
        String secret = server.createKey("guessed", "read");
        String guess = secret.substring(0, 14) + (secret.charAt(14) == 'a' ? 'b' : 'a') + secret.substring(15);

        assertThat(server.get("/whoami", guess).status()).isEqualTo(401);
        assertThat(server.get("/whoami", secret).status()).as("the real key is not poisoned").isEqualTo(200);
    }

    @Test
    void malformed_keys_are_rejected() {
        String good = server.adminKey();
        for (String bad : new String[] {"kt_live_short", "kt_test_" + good.substring(8), good + "x", good.substring(0, 39),
                good.substring(0, 39) + "-", "", "Basic"}) {
            Response response = server.send(server.request("/whoami", null)
                    .header("Authorization", "Bearer " + bad).GET());
            assertThat(response.status()).as("key '%s'", bad).isEqualTo(401);
        }
        assertThat(server.send(server.request("/whoami", null).header("Authorization", good).GET()).status())
                .as("no scheme").isEqualTo(401);
    }

    @Test
    void key_is_accepted_as_the_basic_auth_password() {
        String basic = Base64.getEncoder().encodeToString(("anyone:" + server.adminKey()).getBytes(StandardCharsets.UTF_8));
        Response response = server.send(server.request("/whoami", null).header("Authorization", "Basic " + basic).GET());
        assertThat(response.status()).isEqualTo(200);
        assertThat(response.json().at("/key/scopes/0").asText()).isEqualTo("admin");
    }

    @Test
    void creating_a_key_validates_name_and_scope() {
        for (String body : new String[] {"{\"name\":\"x\",\"scopes\":[\"superuser\"]}",
                "{\"name\":\"x\",\"scopes\":[\"read\",\"write\"]}", "{\"name\":\"x\",\"scopes\":[]}",
                "{\"name\":\"x\"}", "{\"scopes\":[\"read\"]}", "{\"name\":\"  \",\"scopes\":[\"read\"]}"}) {
            Response response = server.post("/api_keys", server.adminKey(), body);
            assertThat(response.status()).as(body).isEqualTo(400);
        }
    }

    @Test
    void each_scope_grants_its_level_and_those_below() {
        String reader = server.createKey("r", "read");
        String writer = server.createKey("w", "write");
        assertThat(server.get("/whoami", reader).json().at("/key/scopes/0").asText()).isEqualTo("read");
        assertThat(server.post("/agent_projects", reader, "{\"name\":\"by-reader\"}").status()).isEqualTo(403);
        assertThat(server.post("/agent_projects", writer, "{\"name\":\"by-writer\"}").status()).isEqualTo(201);
        assertThat(server.get("/agent_projects/by-writer", writer).status()).isEqualTo(200);
        assertThat(server.delete("/agent_projects/by-writer", writer).status()).isEqualTo(403);
    }

    @Test
    void a_flood_of_unknown_keys_is_all_401() {
        List<CompletableFuture<Integer>> answers = new ArrayList<>();
        HttpClient client = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();
        for (int i = 0; i < 200; i++) {
            HttpRequest request = server.request("/agent_projects", TestServer.randomKey()).GET().build();
            answers.add(client.sendAsync(request, HttpResponse.BodyHandlers.discarding())
                    .thenApply(HttpResponse::statusCode));
        }
        // All at once: if unknown keys went through bcrypt, its bounded permits would answer 429s.
        assertThat(answers.stream().map(CompletableFuture::join)).containsOnly(401).hasSize(200);
        assertThat(server.get("/whoami", server.adminKey()).status()).isEqualTo(200);
    }

    @Test
    void concurrent_first_uses_of_a_valid_key_all_succeed() {
        String secret = server.createKey("hot", "read");
        HttpClient client = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();
        List<CompletableFuture<Integer>> answers = new ArrayList<>();
        for (int i = 0; i < 100; i++) {
            answers.add(client.sendAsync(server.request("/agent_projects", secret).GET().build(),
                    HttpResponse.BodyHandlers.discarding()).thenApply(HttpResponse::statusCode));
        }

        assertThat(answers.stream().map(CompletableFuture::join)).containsOnly(200);
    }

    private JsonNode keyById(String id) {
        for (JsonNode key : server.get("/api_keys", server.adminKey()).json().get("api_keys")) {
            if (key.get("id").asText().equals(id)) {
                return key;
            }
        }
        throw new AssertionError("key " + id + " not listed");
    }

    private static String fullText(ILoggingEvent event) {
        String thrown = event.getThrowableProxy() == null ? "" : ThrowableProxyUtil.asString(event.getThrowableProxy());
        return event.getFormattedMessage() + " " + event.getMDCPropertyMap() + " " + thrown;
    }

    /** Files under {@code dir} whose bytes contain {@code text} (ASCII, as SQLite stores it). */
    private static List<Path> filesContaining(Path dir, String text) {
        byte[] needle = text.getBytes(StandardCharsets.US_ASCII);
        try (Stream<Path> files = Files.walk(dir)) {
            return files.filter(Files::isRegularFile).filter(file -> contains(read(file), needle)).toList();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static byte[] read(Path file) {
        try {
            return Files.readAllBytes(file);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static boolean contains(byte[] haystack, byte[] needle) {
        outer:
        for (int i = 0; i <= haystack.length - needle.length; i++) {
            for (int j = 0; j < needle.length; j++) {
                if (haystack[i + j] != needle[j]) {
                    continue outer;
                }
            }
            return true;
        }
        return false;
    }
}
