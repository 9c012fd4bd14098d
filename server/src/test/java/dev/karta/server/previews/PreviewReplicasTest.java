package dev.karta.server.previews;

import static org.assertj.core.api.Assertions.assertThat;

import dev.karta.server.Config;
import dev.karta.server.ingest.webhooks.Hooks;
import dev.karta.server.repos.FakeGitHub;
import dev.karta.server.testkit.PostgresDatabase;
import dev.karta.server.testkit.PostgresExtension;
import dev.karta.server.testkit.TestServer;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

/**
 * With several replicas on one PostgreSQL database, each runs the TTL sweep; a preview still
 * expires once (one audit event), and its build runs once.
 */
@ExtendWith(PostgresExtension.class)
class PreviewReplicasTest {
    @TempDir
    Path dir;

    @Test
    void two_replicas_sweeping_at_once_expire_a_preview_once(PostgresDatabase postgres) {
        try (FakeGitHub github = FakeGitHub.start()) {
            String url = postgres.url();
            String key = TestServer.randomKey();
            Config.Repos repos = new Config.Repos(github.apiUrl(), null, List.of("ssh"), 1L << 20)
                    .withAllowed(Set.of(), List.of(github.archiveUrl() + "/"));
            Config.Previews previews = new Config.Previews(Duration.ofSeconds(2), 10, Duration.ofMillis(100));
            try (TestServer a = TestServer.start(config(dir.resolve("a"), url, key).withRepos(repos).withPreviews(previews));
                 TestServer b = TestServer.start(config(dir.resolve("b"), url, key).withRepos(repos)
                         .withPreviews(previews))) {
                String secret = Hooks.createAndBind(a, "pg-previews", "acme/pg-previews", null);
                String head = Previewing.commit(github, "acme/pg-previews", "replicated");
                assertThat(Previewing.deliver(b, secret, "acme/pg-previews", "opened", 21, head, "acme/pg-previews")
                        .status()).isEqualTo(202);
                Previewing.awaitRelease(a, "pg-previews", "pr-21", "pr-21.1");

                Previewing.awaitPreview(b, "pg-previews", "pr-21", "expired");

                String events = a.get("/audit_events?limit=500", a.adminKey()).body();
                assertThat(events.split("\"preview.expire\"", -1)).as(events).hasSize(2);
                assertThat(Hooks.deploys(a, "pg-previews")).hasSize(1);
            }
        }
    }

    private Config config(Path dataDir, String database, String key) {
        return Config.builder(dataDir).port(0).databaseUrl(database).bootstrapKey(key)
                .secretsKeyFile(dir.resolve("secrets.key")).build();
    }
}
