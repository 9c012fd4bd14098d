package dev.karta.server.migration;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.karta.server.Config;
import dev.karta.server.Main;
import dev.karta.server.datadir.SecretFiles;
import dev.karta.server.ingest.webhooks.Hooks;
import dev.karta.server.store.Database;
import dev.karta.server.store.SecretBox;
import dev.karta.server.testkit.EachDatabase;
import dev.karta.server.testkit.TarBuilder;
import dev.karta.server.testkit.TestDatabase;
import dev.karta.server.testkit.TestServer;
import java.net.http.HttpRequest;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.List;
import java.util.Set;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.Parameter;
import org.junit.jupiter.params.ParameterizedClass;
import org.junit.jupiter.params.provider.ArgumentsSource;
import picocli.CommandLine;

/**
 * {@code karta server rotate-secrets-key}: every sealed value opens with the new key only, the old
 * key stays beside it, config digests do not change, and an interrupted rotation is finished or
 * started over by running the command again.
 */
@ParameterizedClass(name = "on {0}")
@ArgumentsSource(EachDatabase.class)
class SecretsKeyRotationTest {
    private static final String VALUE = "sk-ant-" + "R0t".repeat(10);

    @Parameter
    TestDatabase database;
    @TempDir
    Path dataDir;

    private final String admin = TestServer.randomKey();

    private TestServer start() {
        return TestServer.start(database.config(dataDir, admin)
                .withRepos(Config.Repos.DEFAULTS.withAllowed(Set.of(), List.of("https://git.example.com/"))));
    }

    private int rotate() {
        return new CommandLine(new Main()).execute("--data-dir", dataDir.toString(), "--database",
                database.isPostgres() ? database.url(dataDir) : Config.sqliteUrl(dataDir), "rotate-secrets-key");
    }

    private Database open() {
        return Database.open(database.isPostgres() ? database.url(dataDir) : Config.sqliteUrl(dataDir));
    }

    @Test
    void every_secret_is_resealed_with_a_new_key_and_still_works() throws Exception {
        String webhookSecret;
        String endpointSecret;
        String digest;
        String firstAnswer;
        try (TestServer server = start()) {
            webhookSecret = Hooks.createAndBind(server, "shop", "https://git.example.com/team/shop.git", null);
            endpointSecret = server.post("/webhook_endpoints", admin,
                    "{\"url\":\"https://203.0.113.10/hook\",\"events\":[\"deploy.failed\"]}").json()
                    .get("secret").asText();
            publish(server, "shop");
            firstAnswer = server.send(keyed(server)).body();
            digest = server.get("/agent_projects/shop/releases/v2", admin).json().get("config_digest").asText();
        }
        String oldKey = Files.readString(dataDir.resolve("secrets.key"));

        assertThat(rotate()).isZero();

        assertThat(Files.readString(dataDir.resolve("secrets.key.old"))).isEqualTo(oldKey);
        assertThat(Files.readString(dataDir.resolve("secrets.key"))).isNotEqualTo(oldKey);
        assertThat(dataDir.resolve("secrets.key.new")).doesNotExist();
        for (String name : List.of("secrets.key", "secrets.key.old")) {
            assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(dataDir.resolve(name))))
                    .isEqualTo("rw-------");
        }
        SecretBox before = SecretFiles.existingSecretBox(dataDir.resolve("secrets.key.old"));
        try (Database db = open()) {
            String sealedConfig = db.withHandle(h -> h.select("SELECT config FROM projects").mapTo(String.class).one());
            String sealedSecret = db.withHandle(h -> h.select("SELECT webhook_secret FROM repo_bindings")
                    .mapTo(String.class).one());
            assertThatThrownBy(() -> before.open(sealedConfig)).isInstanceOf(IllegalStateException.class);
            assertThatThrownBy(() -> before.open(sealedSecret)).isInstanceOf(IllegalStateException.class);
            String sealedEndpointSecret = db.withHandle(h -> h.select("SELECT secret FROM webhook_endpoints")
                    .mapTo(String.class).one());
            assertThatThrownBy(() -> before.open(sealedEndpointSecret)).isInstanceOf(IllegalStateException.class);
            assertThat(SecretFiles.existingSecretBox(dataDir.resolve("secrets.key")).open(sealedEndpointSecret))
                    .isEqualTo(endpointSecret);
        }

        try (TestServer server = start()) {
            assertThat(server.get("/agent_projects/shop/config?reveal=true", admin).body()).contains(VALUE);
            assertThat(server.send(keyed(server)).body()).as("the stored answer opens").isEqualTo(firstAnswer);
            assertThat(server.get("/agent_projects/shop/releases/v2", admin).json().get("config_digest").asText())
                    .isEqualTo(digest);
            server.patch("/agent_projects/shop/config", admin, "{\"unset\":[\"KEY\"]}");
            server.patch("/agent_projects/shop/config", admin, "{\"set\":{\"KEY\":\"" + VALUE + "\"}}");
            assertThat(server.get("/agent_projects/shop/releases/v4", admin).json().get("config_digest").asText())
                    .as("digests keep their key").isEqualTo(digest);
            String push = "{\"ref\":\"refs/heads/main\",\"after\":\"" + Hooks.sha(7) + "\",\"deleted\":false,"
                    + "\"repository\":{\"full_name\":\"team/shop\",\"clone_url\":\"https://git.example.com/team/shop.git\"}}";
            TestServer.Response delivered = Hooks.deliver(server, "push", Hooks.newDelivery(), push, webhookSecret);
            assertThat(delivered.status()).as(delivered.body()).isEqualTo(202);
        }
    }

    @Test
    void an_interrupted_rotation_is_finished_or_started_over() throws Exception {
        try (TestServer server = start()) {
            publish(server, "shop");
            server.patch("/agent_projects/shop/config", admin, "{\"set\":{\"KEY\":\"" + VALUE + "\"}}");
        }
        // Never committed: a stray new key that opens nothing.
        SecretFiles.createKeyFile(dataDir.resolve("secrets.key.new"), SecretBox.newKeyText());
        assertThat(rotate()).isZero();
        try (TestServer server = start()) {
            assertThat(server.get("/agent_projects/shop/config?reveal=true", admin).body()).contains(VALUE);
        }

        // Committed, then stopped before the files were swapped: the database opens with .new only.
        Files.move(dataDir.resolve("secrets.key"), dataDir.resolve("secrets.key.new"));
        Files.move(dataDir.resolve("secrets.key.old"), dataDir.resolve("secrets.key"));
        assertThat(rotate()).isZero();
        assertThat(dataDir.resolve("secrets.key.new")).doesNotExist();
        try (TestServer server = start()) {
            assertThat(server.get("/agent_projects/shop/config?reveal=true", admin).body()).contains(VALUE);
        }
    }

    @Test
    void a_key_file_of_another_installation_is_refused_and_nothing_changes() throws Exception {
        try (TestServer server = start()) {
            publish(server, "shop");
            server.patch("/agent_projects/shop/config", admin, "{\"set\":{\"KEY\":\"" + VALUE + "\"}}");
        }
        String mine = Files.readString(dataDir.resolve("secrets.key"));
        Files.writeString(dataDir.resolve("secrets.key"), SecretBox.newKeyText());

        assertThat(rotate()).isEqualTo(1);

        Files.writeString(dataDir.resolve("secrets.key"), mine);
        assertThat(dataDir.resolve("secrets.key.new")).doesNotExist();
        try (TestServer server = start()) {
            assertThat(server.get("/agent_projects/shop/config?reveal=true", admin).body()).contains(VALUE);
        }
    }

    private HttpRequest.Builder keyed(TestServer server) {
        return server.request("/agent_projects/shop/config", admin).header("Content-Type", "application/json")
                .header("Idempotency-Key", "rotate-1")
                .method("PATCH", HttpRequest.BodyPublishers.ofString("{\"set\":{\"KEY\":\"" + VALUE + "\"}}"));
    }

    private void publish(TestServer server, String project) {
        TestServer.Response accepted = server.send(server.request("/agent_projects/" + project + "/releases", admin)
                .header("Content-Type", "application/gzip")
                .POST(HttpRequest.BodyPublishers.ofByteArray(TarBuilder.app("one"))));
        assertThat(accepted.status()).as(accepted.body()).isEqualTo(202);
        String id = accepted.json().get("id").asText();
        Awaitility.await().atMost(Duration.ofSeconds(30)).until(() -> server.get("/agent_projects/" + project
                + "/deploys/" + id, admin).json().get("status").asText().equals("succeeded"));
    }
}
