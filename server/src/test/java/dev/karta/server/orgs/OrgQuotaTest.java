package dev.karta.server.orgs;

import static org.assertj.core.api.Assertions.assertThat;

import dev.karta.server.Config;
import dev.karta.server.testkit.PostgresDatabase;
import dev.karta.server.testkit.PostgresExtension;
import dev.karta.server.testkit.TestServer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

/**
 * A per-org limit holds under concurrent creates: the count and the insert are one step in the
 * database, on SQLite (one writer) and on PostgreSQL across two servers (the org's row lock).
 */
@ExtendWith(PostgresExtension.class)
class OrgQuotaTest {
    private static final Config.Limits THREE_PROJECTS = new Config.Limits(3, 100, 8, 50, 0, 5, 30);

    @TempDir
    Path dir;

    private static Config config(Path dataDir, String database, String key) {
        return Config.builder(dataDir).port(0).databaseUrl(database).bootstrapKey(key).limits(THREE_PROJECTS).build();
    }

    /** Twelve creates at once, spread over {@code servers}: the statuses answered. */
    private static List<Integer> createConcurrently(String key, TestServer... servers) throws Exception {
        ExecutorService pool = Executors.newFixedThreadPool(12);
        try {
            List<CompletableFuture<Integer>> answers = new ArrayList<>();
            for (int i = 0; i < 12; i++) {
                TestServer target = servers[i % servers.length];
                String name = "race-" + i;
                answers.add(CompletableFuture.supplyAsync(() -> target.post("/agent_projects", key,
                        "{\"name\":\"" + name + "\"}").status(), pool));
            }
            List<Integer> statuses = new ArrayList<>();
            for (CompletableFuture<Integer> answer : answers) {
                statuses.add(answer.get());
            }
            return statuses;
        } finally {
            pool.shutdownNow();
        }
    }

    @Test
    void concurrent_creates_on_sqlite_never_pass_the_limit() throws Exception {
        String key = TestServer.randomKey();
        try (TestServer server = TestServer.start(config(dir, null, key))) {
            List<Integer> statuses = createConcurrently(key, server);

            assertThat(statuses).filteredOn(s -> s == 201).hasSize(3);
            assertThat(statuses).filteredOn(s -> s != 201).containsOnly(429);
            assertThat(server.get("/agent_projects", key).json().get("projects")).hasSize(3);
        }
    }

    @Test
    void concurrent_creates_on_two_servers_sharing_postgresql_never_pass_the_limit(PostgresDatabase postgres)
            throws Exception {
        String url = postgres.url();
        String key = TestServer.randomKey();
        try (TestServer a = TestServer.start(config(dir.resolve("a"), url, key));
             TestServer b = TestServer.start(config(dir.resolve("b"), url, key))) {
            List<Integer> statuses = createConcurrently(key, a, b);

            assertThat(statuses).filteredOn(s -> s == 201).hasSize(3);
            assertThat(statuses).filteredOn(s -> s != 201).containsOnly(429);
            assertThat(a.get("/agent_projects", key).json().get("projects")).hasSize(3);
        }
    }
}
