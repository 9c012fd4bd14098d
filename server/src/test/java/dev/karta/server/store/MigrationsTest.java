package dev.karta.server.store;

import static org.assertj.core.api.Assertions.assertThat;

import dev.karta.server.Config;
import dev.karta.server.testkit.TestServer;
import java.io.IOException;
import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The schema is created on an empty database and carried, with its data, across restarts. */
class MigrationsTest {
    @TempDir
    Path dataDir;

    @Test
    void empty_database_is_migrated_to_the_newest_version() throws Exception {
        try (Database db = Database.open(Config.sqliteUrl(dataDir))) {
            List<String> tables = db.withHandle(h -> h.createQuery(
                    "SELECT name FROM sqlite_master WHERE type = 'table'").mapTo(String.class).list());
            assertThat(tables).contains("orgs", "api_keys", "projects", "audit_events", "releases", "deploys",
                    "log_entries", "idempotency_keys");

            List<Map<String, Object>> history = history(db);
            assertThat(history).isNotEmpty().allSatisfy(row -> assertThat(row.get("success")).isIn(1, true, 1L));
            assertThat(history.stream().map(row -> String.valueOf(row.get("version"))))
                    .containsExactlyElementsOf(migrationVersions());
        }
    }

    @Test
    void reopening_a_migrated_database_applies_nothing_again() {
        String url = Config.sqliteUrl(dataDir);
        int applied;
        try (Database db = Database.open(url)) {
            applied = history(db).size();
        }
        try (Database db = Database.open(url)) {
            assertThat(history(db)).hasSize(applied);
        }
    }

    @Test
    void data_survives_a_restart_and_bootstrap_is_not_repeated() {
        String firstKey = TestServer.randomKey();
        String otherPreset = TestServer.randomKey();
        String writer;
        try (TestServer first = TestServer.start(TestServer.config(dataDir, firstKey))) {
            assertThat(first.server().bootstrapped()).isPresent();
            assertThat(first.post("/agent_projects", firstKey, "{\"name\":\"kept-app\"}").status()).isEqualTo(201);
            writer = first.createKey("kept-writer", "write");
        }

        try (TestServer second = TestServer.start(TestServer.config(dataDir, otherPreset))) {
            assertThat(second.server().bootstrapped()).isEmpty();
            assertThat(second.get("/whoami", otherPreset).status()).as("a second preset is not applied").isEqualTo(401);
            assertThat(second.get("/agent_projects/kept-app", firstKey).status()).isEqualTo(200);
            assertThat(second.get("/whoami", writer).json().at("/key/name").asText()).isEqualTo("kept-writer");
            assertThat(second.get("/audit_events", firstKey).body()).contains("project:kept-app");
            try (Database db = second.openDatabase()) {
                Long orgs = db.withHandle(h -> h.createQuery("SELECT COUNT(*) FROM orgs").mapTo(Long.class).one());
                Long keys = db.withHandle(h -> h.createQuery("SELECT COUNT(*) FROM api_keys").mapTo(Long.class).one());
                assertThat(orgs).isEqualTo(1);
                assertThat(keys).isEqualTo(2);
            }
        }
    }

    private static List<Map<String, Object>> history(Database db) {
        return db.withHandle(h -> h.createQuery(
                "SELECT version, success FROM flyway_schema_history WHERE version IS NOT NULL ORDER BY installed_rank")
                .mapToMap().list());
    }

    /** The versions of the SQLite migrations on the classpath, in order: {@code V12__x.sql} is "12". */
    private static List<String> migrationVersions() throws IOException, URISyntaxException {
        Path folder = Path.of(MigrationsTest.class.getClassLoader().getResource(Dialect.SQLITE.migrations()).toURI());
        try (Stream<Path> files = Files.list(folder)) {
            return files.map(file -> file.getFileName().toString())
                    .filter(name -> name.matches("V\\d+__.*\\.sql"))
                    .map(name -> name.substring(1, name.indexOf("__")))
                    .sorted((a, b) -> Integer.compare(Integer.parseInt(a), Integer.parseInt(b)))
                    .toList();
        }
    }
}
