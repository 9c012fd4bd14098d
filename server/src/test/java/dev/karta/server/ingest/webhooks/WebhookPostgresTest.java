package dev.karta.server.ingest.webhooks;

import static org.assertj.core.api.Assertions.assertThat;

import dev.karta.server.Config;
import dev.karta.server.repos.FakeGitHub;
import dev.karta.server.testkit.PostgresDatabase;
import dev.karta.server.testkit.PostgresExtension;
import dev.karta.server.testkit.TestServer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

/**
 * On PostgreSQL the once-per-delivery rule holds in the database, not in one JVM: two
 * servers sharing one database receive the same delivery at once, and one deploy is queued.
 */
@ExtendWith(PostgresExtension.class)
class WebhookPostgresTest {
    @TempDir
    Path dir;

    @Test
    void copies_of_one_delivery_to_two_servers_on_one_database_queue_one_deploy(PostgresDatabase postgres)
            throws Exception {
        try (FakeGitHub github = FakeGitHub.start()) {
            String url = postgres.url();
            String key = TestServer.randomKey();
            Config.Repos repos = new Config.Repos(github.apiUrl(), null, List.of("ssh"), 1L << 20)
                    .withAllowed(Set.of(), List.of(github.archiveUrl() + "/"));
            String after = Hooks.sha(7);
            github.commit("acme/pg-agent", after, "pg");
            try (TestServer a = TestServer.start(config(dir.resolve("a"), url, key).withRepos(repos));
                 TestServer b = TestServer.start(config(dir.resolve("b"), url, key).withRepos(repos))) {
                String secret = Hooks.createAndBind(a, "pg-app", "acme/pg-agent", null);
                String delivery = Hooks.newDelivery();
                String body = Hooks.push("acme/pg-agent", "refs/heads/main", after);
                ExecutorService pool = Executors.newFixedThreadPool(8);
                List<Future<Integer>> answers = new ArrayList<>();
                for (int i = 0; i < 8; i++) {
                    TestServer target = i % 2 == 0 ? a : b;
                    answers.add(pool.submit(() -> Hooks.deliver(target, "push", delivery, body, secret).status()));
                }
                List<Integer> statuses = new ArrayList<>();
                for (Future<Integer> answer : answers) {
                    statuses.add(answer.get());
                }
                pool.shutdown();

                assertThat(statuses).containsOnlyOnce(202).containsOnly(202, 200);
                assertThat(Hooks.deploys(a, "pg-app")).hasSize(1);
                String deployId = Hooks.deploys(a, "pg-app").get(0).get("id").asText();
                assertThat(Hooks.awaitDeployEnded(a, "pg-app", deployId).get("status").asText()).isEqualTo("succeeded");
            }
        }
    }

    /** Replicas share the database and the secrets key that encrypts the webhook secrets in it. */
    private Config config(Path dataDir, String database, String key) {
        return Config.builder(dataDir).port(0).databaseUrl(database).bootstrapKey(key)
                .secretsKeyFile(dir.resolve("secrets.key")).build();
    }
}
