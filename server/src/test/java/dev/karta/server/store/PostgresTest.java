package dev.karta.server.store;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import dev.karta.server.Config;
import dev.karta.server.testkit.TarBuilder;
import dev.karta.server.testkit.TestServer;
import dev.karta.server.testkit.PostgresDatabase;
import dev.karta.server.testkit.PostgresExtension;
import java.net.http.HttpRequest;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

/**
 * The same server on PostgreSQL: the postgres migrations apply, and two servers sharing
 * one database keep every invariant (one build per project, contiguous versions, one active).
 */
@ExtendWith(PostgresExtension.class)
class PostgresTest {
    @TempDir
    Path dir;

    private Config config(Path dataDir, String database, String key) {
        return Config.builder(dataDir).port(0).databaseUrl(database).bootstrapKey(key).build();
    }

    @Test
    void two_servers_on_one_postgres_database_keep_versions_contiguous_and_one_release_active(PostgresDatabase postgres)
            throws Exception {
        String url = postgres.url();
        String key = TestServer.randomKey();
        // Replicas share release trees through one data dir until storage moves into the database:
        // either server may build a deploy the other accepted.
        try (TestServer a = TestServer.start(config(dir.resolve("shared"), url, key));
             TestServer b = TestServer.start(config(dir.resolve("shared"), url, key))) {
            ExecutorService pool = Executors.newFixedThreadPool(6);
            List<Future<String>> deploys = new ArrayList<>();
            for (int i = 0; i < 6; i++) {
                TestServer target = i % 2 == 0 ? a : b;
                byte[] archive = TarBuilder.app("pg " + i);
                deploys.add(pool.submit(() -> {
                    TestServer.Response accepted = target.send(target.request("/agent_projects/shop/releases", key)
                            .header("Content-Type", "application/gzip")
                            .POST(HttpRequest.BodyPublishers.ofByteArray(archive)));
                    assertThat(accepted.status()).as(accepted.body()).isEqualTo(202);
                    return accepted.json().get("id").asText();
                }));
            }
            for (Future<String> deploy : deploys) {
                String id = deploy.get();
                await().atMost(Duration.ofSeconds(60)).until(() -> {
                    String status = a.get("/agent_projects/shop/deploys/" + id, key).json().get("status").asText();
                    return !status.equals("queued") && !status.equals("building");
                });
            }
            pool.shutdownNow();

            JsonNode releases = a.get("/agent_projects/shop/releases", key).json().get("releases");
            int count = releases.size();
            assertThat(count).isGreaterThanOrEqualTo(1);
            for (int i = 0; i < count; i++) {
                assertThat(releases.get(i).get("number").asInt()).isEqualTo(count - i);
            }
            long active = 0;
            for (JsonNode r : releases) {
                active += r.get("status").asText().equals("active") ? 1 : 0;
            }
            assertThat(active).isEqualTo(1);
            assertThat(b.post("/agent_projects/shop/rollback", key, "{\"to\":\"v1\"}").status()).isIn(200, 409);
        }
    }
}
