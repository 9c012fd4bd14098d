package dev.karta.server.repos;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.karta.server.Config;
import dev.karta.server.ingest.webhooks.Hooks;
import dev.karta.server.store.Database;
import dev.karta.server.testkit.EachDatabase;
import dev.karta.server.testkit.TestDatabase;
import dev.karta.server.testkit.TestServer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.Parameter;
import org.junit.jupiter.params.ParameterizedClass;
import org.junit.jupiter.params.provider.ArgumentsSource;

/**
 * Webhook secrets and repository credentials are encrypted in {@code repo_bindings}; rows an
 * earlier version wrote in plain text are encrypted when the server starts.
 */
@ParameterizedClass(name = "on {0}")
@ArgumentsSource(EachDatabase.class)
class SecretsAtRestTest {
    @Parameter
    TestDatabase database;
    private static final String TOKEN = "s3cr3t-" + "t".repeat(30);

    @TempDir
    Path dataDir;

    private static Map<String, Object> row(TestServer server, String project) {
        try (var db = server.openDatabase()) {
            return db.withHandle(h -> h.createQuery("SELECT b.* FROM repo_bindings b JOIN projects p "
                    + "ON p.id = b.project_id WHERE p.name = :n").bind("n", project).mapToMap().one());
        }
    }

    private TestServer start(String key) {
        return TestServer.start(database.config(dataDir, key)
                .withRepos(Config.Repos.DEFAULTS.withAllowed(Set.of(), List.of("https://git.example.com/"))));
    }

    @Test
    void webhook_secrets_and_url_credentials_are_stored_encrypted_and_never_shown() {
        try (TestServer server = start(TestServer.randomKey())) {
            String secret = Hooks.createAndBind(server, "enc-app",
                    "https://deploy-robot:" + TOKEN + "@git.example.com/team/app.git", null);

            Map<String, Object> stored = row(server, "enc-app");
            TestServer.Response shown = server.get("/agent_projects/enc-app/repo", server.adminKey());

            assertThat((String) stored.get("webhook_secret")).startsWith("v1:").doesNotContain(secret);
            assertThat(stored.get("fetch_url")).isEqualTo("https://git.example.com/team/app.git");
            assertThat((String) stored.get("credentials")).startsWith("v1:").doesNotContain(TOKEN).doesNotContain("deploy-robot");
            assertThat(shown.json().get("credentials").asBoolean()).isTrue();
            assertThat(shown.json().at("/repo/url").asText()).isEqualTo("https://git.example.com/team/app.git");
            assertThat(shown.body()).doesNotContain(TOKEN);
        }
    }

    @Test
    void plaintext_rows_of_an_earlier_version_are_encrypted_at_start_and_still_verify_webhooks() {
        String key = TestServer.randomKey();
        try (TestServer first = start(key)) {
            Hooks.createAndBind(first, "old-app", "https://git.example.com/team/old.git", null);
        }
        // What an earlier version wrote: the secret and the URL's credentials in plain text.
        try (Database db = Database.open(database.isPostgres() ? database.url(dataDir) : Config.sqliteUrl(dataDir))) {
            db.withHandle(h -> h.execute("UPDATE repo_bindings SET webhook_secret = 'plain-secret', "
                    + "fetch_url = 'https://ci:" + TOKEN + "@git.example.com/team/old.git', credentials = NULL"));
        }

        try (TestServer again = start(key)) {
            Map<String, Object> stored = row(again, "old-app");
            String payload = "{\"ref\":\"refs/heads/main\",\"after\":\"" + Hooks.sha(1) + "\",\"deleted\":false,"
                    + "\"repository\":{\"full_name\":\"team/old\",\"clone_url\":\"https://git.example.com/team/old.git\"}}";
            TestServer.Response delivered = Hooks.deliver(again, "push", Hooks.newDelivery(), payload, "plain-secret");

            assertThat((String) stored.get("webhook_secret")).startsWith("v1:").doesNotContain("plain-secret");
            assertThat(stored.get("fetch_url")).isEqualTo("https://git.example.com/team/old.git");
            assertThat((String) stored.get("credentials")).startsWith("v1:").doesNotContain(TOKEN);
            assertThat(delivered.status()).as(delivered.body()).isEqualTo(202);
            assertThat(again.get("/agent_projects/old-app/repo", key).json().get("credentials").asBoolean()).isTrue();
        }
    }

    @Test
    void the_key_file_is_created_with_mode_0600_and_a_malformed_one_stops_the_start() throws Exception {
        try (TestServer server = start(TestServer.randomKey())) {
            assertThat(java.nio.file.attribute.PosixFilePermissions.toString(
                    Files.getPosixFilePermissions(dataDir.resolve("secrets.key")))).isEqualTo("rw-------");
        }
        Files.writeString(dataDir.resolve("secrets.key"), "garbage");

        assertThatThrownBy(() -> start(TestServer.randomKey()))
                .hasMessageContaining("secrets key file " + dataDir.resolve("secrets.key") + " is malformed");
    }
}
