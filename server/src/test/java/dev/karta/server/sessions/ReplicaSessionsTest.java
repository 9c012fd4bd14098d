package dev.karta.server.sessions;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import dev.karta.server.Config;
import dev.karta.server.KartaServer;
import dev.karta.server.build.Materializer;
import dev.karta.server.store.Database;
import dev.karta.server.testkit.PostgresDatabase;
import dev.karta.server.testkit.PostgresExtension;
import dev.karta.server.testkit.TarBuilder;
import dev.karta.server.testkit.TestServer;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

/**
 * Two servers on one PostgreSQL database with {@code --storage database} and data dirs of their
 * own: a release published on one runs, rolls back and is counted on the other, whose data dir is
 * only a cache of the database, even when that cache is deleted while it runs.
 */
@ExtendWith(PostgresExtension.class)
class ReplicaSessionsTest {
    private static final String P = "twin";

    @TempDir
    Path dir;

    private Config config(PostgresDatabase postgres, String name, String key) {
        Path spy = dir.resolve("spy");
        Config.SessionSettings settings = new Config.SessionSettings(
                FakeHarness.claude(dir.resolve("bin"), spy).toString(),
                FakeHarness.opencode(dir.resolve("bin"), spy).toString(),
                Duration.ofMinutes(10), Duration.ofSeconds(20), 16, 100_000, 1L << 20,
                FakeHarness.environment(dir.resolve("home")));
        return Config.builder(dir.resolve(name)).port(0).databaseUrl(postgres.url()).bootstrapKey(key)
                .storage(Config.Storage.DATABASE).sessions(settings).sandbox(SessionFixture.UNSANDBOXED).build();
    }

    @Test
    void a_release_published_on_one_server_runs_rolls_back_and_counts_the_same_on_the_other(PostgresDatabase postgres)
            throws IOException {
        String key = TestServer.randomKey();
        // Server two fetches nothing ahead of its sessions: what they need comes from the database on demand.
        Config onDemand = config(postgres, "two", key).toBuilder().cacheWarmUp(Duration.ZERO).build();
        try (SessionFixture one = SessionFixture.start(config(postgres, "one", key), dir.resolve("spy"));
             SessionFixture two = SessionFixture.start(onDemand, dir.resolve("spy"));
             Database db = one.server.openDatabase()) {
            assertThat(one.publish(P, SessionFixture.claudeApp("answer of v1"))).isEqualTo("v1");
            assertThat(one.publish(P, SessionFixture.claudeApp("answer of v2"))).isEqualTo("v2");
            Path cache = dir.resolve("two");
            assertThat(entries(cache.resolve("trees"))).as("server two has seen no release yet").isZero();

            String first = two.open(P);
            assertThat(two.ask(P, first, "which release?")).isEqualTo("answer of v2");
            assertThat(entries(cache.resolve("trees"))).as("v2's tree, fetched from the database").isEqualTo(1);

            two.rollback(P, "v1");
            assertThat(one.currentVersion(P)).isEqualTo("v1");
            String second = two.open(P);
            assertThat(two.ask(P, second, "and now?")).isEqualTo("answer of v1");
            assertThat(two.ask(P, first, "still pinned?")).isEqualTo("answer of v2");

            assertThat(two.server.get("/healthz", null).json().get("storage").asText()).isEqualTo("database");
            assertThat(two.server.get("/agent_projects/" + P + "/releases", two.reader).json())
                    .isEqualTo(one.server.get("/agent_projects/" + P + "/releases", one.reader).json());
            JsonNode usage = one.server.get("/agent_projects/" + P + "/usage", one.reader).json();
            assertThat(two.server.get("/agent_projects/" + P + "/usage", two.reader).json()).isEqualTo(usage);
            assertThat(usage.get("stored_bytes").asLong()).isEqualTo(db.withHandle(h -> h.createQuery(
                    "SELECT (SELECT SUM(bytes) FROM stored_trees) + (SELECT SUM(bytes) FROM blobs b WHERE NOT EXISTS "
                            + "(SELECT 1 FROM stored_trees t WHERE t.blob = b.digest))").mapTo(Long.class).one()));

            Materializer.deleteRecursively(cache.resolve("trees"));
            Materializer.deleteRecursively(cache.resolve("artifacts"));
            Materializer.deleteRecursively(cache.resolve("workspaces"));
            String third = two.open(P);
            assertThat(two.ask(P, third, "after the cache is gone?")).isEqualTo("answer of v1");
            assertThat(entries(cache.resolve("trees"))).isEqualTo(1);
        }
    }

    @Test
    void a_server_fetches_the_active_releases_before_it_is_ready_and_those_activated_elsewhere_after(
            PostgresDatabase postgres) throws IOException {
        String key = TestServer.randomKey();
        try (SessionFixture one = SessionFixture.start(config(postgres, "one", key), dir.resolve("spy"))) {
            one.publish(P, SessionFixture.claudeApp("answer of v1"));
            one.publish(P, SessionFixture.claudeApp("answer of v2"));
            one.publish("other", SessionFixture.claudeApp("other's only release"));

            try (SessionFixture two = SessionFixture.start(config(postgres, "two", key), dir.resolve("spy"));
                 SessionFixture cold = SessionFixture.start(config(postgres, "cold", key).toBuilder()
                         .cacheWarmUp(Duration.ZERO).build(), dir.resolve("spy"))) {
                await().atMost(Duration.ofSeconds(30)).until(() -> two.server.get("/readyz", null).status() == 200);
                assertThat(entries(dir.resolve("two").resolve("trees")))
                        .as("ready once the active releases (v2, other's v1) are in its cache, not v1").isEqualTo(2);
                assertThat(two.ask(P, two.open(P), "which release?")).isEqualTo("answer of v2");

                one.publish(P, SessionFixture.claudeApp("answer of v3"));
                await().atMost(Duration.ofSeconds(30)).untilAsserted(() -> assertThat(entries(
                        dir.resolve("two").resolve("trees"))).as("v3, activated on one").isEqualTo(3));
                one.rollback(P, "v1");
                await().atMost(Duration.ofSeconds(30)).untilAsserted(() -> assertThat(entries(
                        dir.resolve("two").resolve("trees"))).as("v1, rolled back to on one").isEqualTo(4));

                assertThat(cold.server.get("/readyz", null).status()).isEqualTo(200);
                assertThat(entries(dir.resolve("cold").resolve("trees"))).as("--cache-warm-up 0s").isZero();
            }
        }
    }

    @Test
    void a_database_whose_releases_were_built_with_local_storage_is_refused_with_database_storage(
            PostgresDatabase postgres) throws IOException {
        String key = TestServer.randomKey();
        Config local = config(postgres, "local", key).toBuilder().storage(Config.Storage.LOCAL).build();
        try (SessionFixture one = SessionFixture.start(local, dir.resolve("spy"))) {
            assertThat(one.publish(P, SessionFixture.claudeApp("kept in the data dir"))).isEqualTo("v1");
        }

        assertThatThrownBy(() -> KartaServer.start(config(postgres, "upgraded", key)))
                .isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("--storage local")
                .hasMessageContaining("karta server migrate-storage --to database");
    }

    @Test
    void an_archive_published_to_two_projects_through_two_servers_is_stored_and_counted_once(PostgresDatabase postgres) {
        String key = TestServer.randomKey();
        byte[] archive = TarBuilder.files(SessionFixture.claudeApp("shared"));
        try (SessionFixture one = SessionFixture.start(config(postgres, "one", key), dir.resolve("spy"));
             SessionFixture two = SessionFixture.start(config(postgres, "two", key), dir.resolve("spy"));
             Database db = one.server.openDatabase()) {
            one.publish("shared-a", archive);
            long blobs = count(db, "SELECT COUNT(*) FROM blobs");
            long chunks = count(db, "SELECT COUNT(*) FROM blob_chunks");

            two.publish("shared-b", archive);
            two.publish("shared-b", archive);

            assertThat(count(db, "SELECT COUNT(*) FROM blobs")).isEqualTo(blobs).isEqualTo(2);
            assertThat(count(db, "SELECT COUNT(*) FROM blob_chunks")).isEqualTo(chunks);
            assertThat(count(db, "SELECT COUNT(*) FROM stored_trees")).isEqualTo(1);
            long storedOnce = count(db, "SELECT (SELECT bytes FROM stored_trees) + (SELECT bytes FROM blobs b "
                    + "WHERE NOT EXISTS (SELECT 1 FROM stored_trees t WHERE t.blob = b.digest))");
            for (String project : new String[] {"shared-a", "shared-b"}) {
                JsonNode usage = two.server.get("/agent_projects/" + project + "/usage", two.reader).json();
                assertThat(usage.get("stored_bytes").asLong()).as(project).isEqualTo(storedOnce);
            }
            String session = one.open("shared-b");
            assertThat(one.ask("shared-b", session, "hello")).isEqualTo("shared");
        }
    }

    private static long count(Database db, String sql) {
        return db.withHandle(h -> h.createQuery(sql).mapTo(Long.class).one());
    }

    /** Entries of a folder but its staging area; 0 when it does not exist. */
    private static long entries(Path dir) throws IOException {
        if (!Files.isDirectory(dir)) {
            return 0;
        }
        try (Stream<Path> list = Files.list(dir)) {
            return list.filter(p -> !p.getFileName().toString().startsWith(".")).count();
        }
    }

}
