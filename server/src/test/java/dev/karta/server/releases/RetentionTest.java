package dev.karta.server.releases;

import static org.assertj.core.api.Assertions.assertThat;

import dev.karta.server.Config;
import dev.karta.server.datadir.DataDir;
import dev.karta.server.datadir.LocalStorage;
import dev.karta.server.store.Database;
import dev.karta.server.testkit.EachDatabase;
import dev.karta.server.testkit.TarBuilder;
import dev.karta.server.testkit.TestDatabase;
import dev.karta.server.testkit.TestServer;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.Parameter;
import org.junit.jupiter.params.ParameterizedClass;
import org.junit.jupiter.params.provider.ArgumentsSource;

@ParameterizedClass(name = "on {0}")
@ArgumentsSource(EachDatabase.class)
class RetentionTest {
    @Parameter
    TestDatabase database;
    @TempDir
    Path dataDir;

    private static long count(Path dir) throws IOException {
        try (Stream<Path> children = Files.list(dir)) {
            return children.filter(p -> !p.getFileName().toString().startsWith(".")).count();
        }
    }

    /** An app of many small files, so that deleting its tree takes a while. */
    private static byte[] bigApp(int marker) {
        TarBuilder tar = new TarBuilder().file("app/CLAUDE.md", "# app " + marker + "\n");
        for (int i = 0; i < 300; i++) {
            tar.file("app/docs/page-" + i + ".md", "page " + i + " of app " + marker + "\n");
        }
        return tar.build();
    }

    private static String projectId(Database db, String name) {
        return db.withHandle(h -> h.select("SELECT id FROM projects WHERE name = ?", name).mapTo(String.class).one());
    }

    @Test
    void retention_and_rollbacks_running_together_never_leave_a_release_without_its_tree() throws Exception {
        try (TestServer server = database.start(dataDir); Database db = server.openDatabase()) {
            Publisher publisher = new Publisher(server);
            Retention retention = new Retention(db, new LocalStorage(dataDir, Config.ArchiveLimits.DEFAULTS).releaseFiles(), 1, id -> Set.of());
            int published = 0;
            publisher.publish("shop", bigApp(++published));
            String project = projectId(db, "shop");
            for (int round = 0; round < 6; round++) {
                for (int i = 0; i < 4; i++) {
                    publisher.publish("shop", bigApp(++published));
                }
                int versions = published; // rollbacks aim at this round's releases, which retention is pruning
                AtomicBoolean stop = new AtomicBoolean();
                CountDownLatch rolling = new CountDownLatch(2);
                Set<Integer> statuses = ConcurrentHashMap.newKeySet();
                List<CompletableFuture<Void>> rollbacks = new ArrayList<>();
                for (int t = 0; t < 2; t++) {
                    Random random = new Random(round * 10L + t);
                    rollbacks.add(CompletableFuture.runAsync(() -> {
                        while (!stop.get()) {
                            TestServer.Response r = server.post("/agent_projects/shop/rollback", server.adminKey(),
                                    "{\"to\":\"v" + (versions - random.nextInt(5)) + "\"}");
                            statuses.add(r.status());
                            rolling.countDown();
                        }
                    }));
                }
                rolling.await(30, TimeUnit.SECONDS);

                retention.prune(project);
                stop.set(true);
                CompletableFuture.allOf(rollbacks.toArray(CompletableFuture[]::new)).get(30, TimeUnit.SECONDS);

                assertThat(statuses).as("rollbacks answer 200, or 409 for a pruned release").isSubsetOf(200, 409);
                String active = db.withHandle(h -> h.select("SELECT r.content_digest FROM projects p JOIN releases r "
                        + "ON r.id = p.current_release_id WHERE p.id = ?", project).mapTo(String.class).one());
                assertThat(new DataDir(dataDir).tree(active)).as("the active release's tree, round " + round)
                        .isDirectory();
            }
            List<String> kept = db.withHandle(h -> h.select("SELECT content_digest FROM releases "
                    + "WHERE project_id = ? AND pruned_at IS NULL", project).mapTo(String.class).list());
            assertThat(kept).as("releases not marked pruned").hasSizeGreaterThanOrEqualTo(2).allSatisfy(digest ->
                    assertThat(new DataDir(dataDir).tree(digest)).isDirectory());
        }
    }

    @Test
    void rollback_to_a_release_whose_tree_was_pruned_is_refused_with_409() throws IOException {
        try (TestServer server = database.start(dataDir); Database db = server.openDatabase()) {
            Publisher publisher = new Publisher(server);
            for (int i = 1; i <= 4; i++) {
                publisher.publish("shop", TarBuilder.app("version " + i));
            }
            new Retention(db, new LocalStorage(dataDir, Config.ArchiveLimits.DEFAULTS).releaseFiles(), 1, id -> Set.of()).prune(projectId(db, "shop"));
            // The same content again brings the tree back, but v1 stays pruned: its tree may go at any time.
            publisher.publish("shop", TarBuilder.app("version 1"));

            TestServer.Response refused = server.post("/agent_projects/shop/rollback", server.adminKey(),
                    "{\"to\":\"v1\"}");

            assertThat(refused.status()).isEqualTo(409);
            assertThat(refused.json().get("message").asText())
                    .isEqualTo("release v1 can no longer be activated: files pruned by --keep-releases");
            assertThat(publisher.active("shop")).isEqualTo("v5");
            assertThat(server.post("/agent_projects/shop/rollback", server.adminKey(), "{\"to\":\"v3\"}").status())
                    .isEqualTo(200);
        }
    }

    @Test
    void deleting_a_project_frees_the_trees_and_archives_only_it_used() throws IOException {
        try (TestServer server = database.start(dataDir)) {
            Publisher publisher = new Publisher(server);
            publisher.publish("shop", TarBuilder.app("only shop"));
            publisher.publish("shop", TarBuilder.app("shared"));
            publisher.publish("blog", TarBuilder.app("shared"));
            assertThat(count(dataDir.resolve("trees"))).isEqualTo(2);

            assertThat(server.delete("/agent_projects/shop", server.adminKey()).status()).isEqualTo(204);
            try (Database db = server.openDatabase()) {
                new Retention(db, new LocalStorage(dataDir, Config.ArchiveLimits.DEFAULTS).releaseFiles(), 0, id -> Set.of()).sweepUnreferenced(Duration.ZERO);
            }

            assertThat(count(dataDir.resolve("trees"))).isEqualTo(1);
            assertThat(count(dataDir.resolve("artifacts"))).isEqualTo(1);
            String blogTree = server.get("/agent_projects/blog/releases/v1", server.adminKey()).json()
                    .get("content_digest").asText().substring(7);
            assertThat(dataDir.resolve("trees").resolve(blogTree)).isDirectory();
        }
    }
}
