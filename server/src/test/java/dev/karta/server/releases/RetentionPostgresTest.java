package dev.karta.server.releases;

import static org.assertj.core.api.Assertions.assertThat;

import dev.karta.server.Config;
import dev.karta.server.testkit.TarBuilder;
import dev.karta.server.testkit.TestServer;
import dev.karta.server.datadir.LocalStorage;
import dev.karta.server.store.Database;
import dev.karta.server.testkit.PostgresDatabase;
import dev.karta.server.testkit.PostgresExtension;
import java.nio.file.Path;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

/** Retention's marks and locks with PostgreSQL's row and advisory locks. */
@ExtendWith(PostgresExtension.class)
class RetentionPostgresTest {
    @TempDir
    Path dir;

    @Test
    void pruned_releases_are_marked_and_refused_on_postgres(PostgresDatabase postgres) throws Exception {
        String url = postgres.url();
        String key = TestServer.randomKey();
        Config config = Config.builder(dir).port(0).databaseUrl(url).bootstrapKey(key).build();
        try (TestServer server = TestServer.start(config); Database db = server.openDatabase()) {
            Publisher publisher = new Publisher(server);
            for (int i = 1; i <= 4; i++) {
                publisher.publish("shop", TarBuilder.app("pg version " + i));
            }
            String project = db.withHandle(h -> h.select("SELECT id FROM projects WHERE name = 'shop'")
                    .mapTo(String.class).one());

            new Retention(db, new LocalStorage(dir, Config.ArchiveLimits.DEFAULTS).releaseFiles(), 1, id -> Set.of()).prune(project);

            List<Integer> pruned = db.withHandle(h -> h.select("SELECT number FROM releases WHERE project_id = ? "
                    + "AND pruned_at IS NOT NULL ORDER BY number", project).mapTo(Integer.class).list());
            assertThat(pruned).containsExactly(1, 2);
            assertThat(server.post("/agent_projects/shop/rollback", key, "{\"to\":\"v2\"}").status())
                    .isEqualTo(409);
            assertThat(server.post("/agent_projects/shop/rollback", key, "{\"to\":\"v3\"}").status())
                    .isEqualTo(200);
            assertThat(publisher.active("shop")).isEqualTo("v3");
        }
    }
}
