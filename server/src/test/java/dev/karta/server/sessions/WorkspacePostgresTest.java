package dev.karta.server.sessions;

import static org.assertj.core.api.Assertions.assertThat;

import dev.karta.server.Config;
import dev.karta.server.testkit.TestServer;
import dev.karta.server.build.Materializer;
import dev.karta.server.store.Database;
import dev.karta.server.testkit.PostgresDatabase;
import dev.karta.server.testkit.PostgresExtension;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

/** Harness state saved in, restored from and forgotten by PostgreSQL ({@code BYTEA}, upserts). */
@ExtendWith(PostgresExtension.class)
class WorkspacePostgresTest {
    @TempDir
    Path dir;

    @Test
    void harness_state_round_trips_through_postgres(PostgresDatabase postgres) throws Exception {
        Path claude = WorkspaceHarness.claude(dir.resolve("bin"));
        Config config = Config.builder(dir.resolve("data")).port(0).databaseUrl(postgres.url())
                .bootstrapKey(TestServer.randomKey())
                .sessions(new Config.SessionSettings(claude.toString(), "opencode", Duration.ofMinutes(10),
                        Duration.ofSeconds(20), 16, 100_000, 1L << 20,
                        Config.SessionSettings.inheritedEnvironment(List.of())))
                .build();
        SessionFixture f = SessionFixture.start(config, dir.resolve("spy"));
        String id;
        try {
            f.publish("pg-state", Map.of("CLAUDE.md", "# pg\n"));
            id = f.open("pg-state");
            assertThat(f.ask("pg-state", id, "turns")).isEqualTo("1");
            assertThat(f.ask("pg-state", id, "turns")).as("saved again over the first").isEqualTo("2");
        } finally {
            f.close();
        }
        Materializer.deleteRecursively(dir.resolve("data/workspaces"));

        f = SessionFixture.start(config, dir.resolve("spy"));
        try (Database db = f.server.openDatabase()) {
            assertThat(f.ask("pg-state", id, "turns")).isEqualTo("3");

            assertThat(f.server.delete("/v1/projects/pg-state/sessions/" + id, f.writer).status()).isEqualTo(204);

            int saved = db.withHandle(h -> h.createQuery("SELECT COUNT(*) FROM session_state").mapTo(Integer.class).one());
            assertThat(saved).isZero();
        } finally {
            f.close();
        }
    }
}
