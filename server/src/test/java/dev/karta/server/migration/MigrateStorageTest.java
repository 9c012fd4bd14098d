package dev.karta.server.migration;

import static dev.karta.server.migration.Installation.answers;
import static dev.karta.server.migration.Installation.args;
import static dev.karta.server.migration.Installation.karta;
import static org.assertj.core.api.Assertions.assertThat;

import dev.karta.server.Config;
import dev.karta.server.testkit.PostgresDatabase;
import dev.karta.server.testkit.PostgresExtension;
import dev.karta.server.testkit.TarBuilder;
import dev.karta.server.testkit.TestServer;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code karta server migrate-storage --to database} moves a single node (SQLite metadata, release
 * archives and trees, a pushed repository) into PostgreSQL, so that a server with
 * {@code --storage database} and an empty data dir serves it.
 */
@ExtendWith(PostgresExtension.class)
class MigrateStorageTest {
    @TempDir
    Path dir;

    private record Source(String admin, String pushed, String answers) {
    }

    /**
     * A SQLite node with two releases of {@code shop} (an executable file and a link in them), a
     * pushed project {@code tool}, and the archive of shop's v1 gone, so that it travels as its tree.
     */
    private Source makeSource(Path dataDir) throws IOException {
        String admin = TestServer.randomKey();
        Source source;
        try (TestServer server = TestServer.start(TestServer.config(dataDir, admin))) {
            Installation.publish(server, admin, "shop", new TarBuilder().dir("app")
                    .file("app/CLAUDE.md", "# one\n").file("app/bin/run", "#!/bin/sh\necho hi\n", 0755)
                    .symlink("app/README", "CLAUDE.md").build());
            String v1Archive = server.get("/agent_projects/shop/deploys", admin).json().get("deploys").get(0)
                    .get("id").asText();
            Installation.publish(server, admin, "shop", "two");
            String pushed = Installation.push(server, admin, dir.resolve("work"), "tool");
            source = new Source(admin, pushed, answers(server, admin, "shop", "tool"));
            assertThat(v1Archive).startsWith("dep_");
        }
        Path artifacts = dataDir.resolve("artifacts");
        try (Stream<Path> archives = Files.list(artifacts)) {
            Path oldest = archives.filter(p -> p.toString().endsWith(".tar.gz"))
                    .min((x, y) -> Long.compare(x.toFile().lastModified(), y.toFile().lastModified())).orElseThrow();
            Files.delete(oldest);
        }
        return source;
    }

    @Test
    void moves_sqlite_metadata_and_the_data_dir_into_postgres_and_runs_again_as_a_no_op(PostgresDatabase postgres)
            throws Exception {
        Path a = dir.resolve("a");
        Source source = makeSource(a);

        String first = karta(args(a, postgres.url(), "migrate-storage", "--to", "database")).ok().err();

        assertThat(first).contains("table projects: 2 rows").contains("committed ")
                .contains("release tree sha256:").contains(": copied")
                .contains("repository ").contains("verified: ").doesNotContain("table blobs")
                .doesNotContain("table git_packs");
        String second = karta(args(a, postgres.url(), "migrate-storage", "--to", "database")).ok().err();
        assertThat(second).contains("nothing to write").contains("verified: ");
        // The metadata now answers from PostgreSQL (the files still from the old data dir here).
        try (TestServer server = Installation.start(a, postgres.url(), Config.Storage.LOCAL)) {
            assertThat(answers(server, source.admin(), "shop", "tool")).isEqualTo(source.answers());
        }
    }

    @Test
    void refuses_a_sqlite_target() throws Exception {
        Installation.Command refused = karta(args(dir.resolve("a"), null, "migrate-storage", "--to", "database"));

        assertThat(refused.exit()).isNotZero();
        assertThat(refused.err()).contains("needs a PostgreSQL --database");
    }

    @Test
    void a_server_with_database_storage_and_an_empty_data_dir_serves_the_migrated_releases(PostgresDatabase postgres)
            throws Exception {
        Path a = dir.resolve("a");
        Source source = makeSource(a);
        karta(args(a, postgres.url(), "migrate-storage", "--to", "database")).ok();

        Path empty = dir.resolve("empty");
        Installation.copy(a.resolve("secrets.key"), empty.resolve("secrets.key"));
        try (TestServer server = Installation.start(empty, postgres.url(), Config.Storage.DATABASE)) {
            assertThat(answers(server, source.admin(), "shop", "tool")).isEqualTo(source.answers());
            // Activating a release needs its tree: v1 travelled as its tree, v2 as its archive.
            assertThat(server.post("/agent_projects/shop/rollback", source.admin(), "{\"to\":\"v1\"}").status())
                    .isEqualTo(200);
            assertThat(server.post("/agent_projects/shop/rollback", source.admin(), "{\"to\":\"v2\"}").status())
                    .isEqualTo(200);
        }
    }

    @Test
    void a_server_with_database_storage_and_an_empty_data_dir_serves_git_clone(PostgresDatabase postgres)
            throws Exception {
        Path a = dir.resolve("a");
        Source source = makeSource(a);
        karta(args(a, postgres.url(), "migrate-storage", "--to", "database")).ok();

        Path empty = dir.resolve("empty");
        Installation.copy(a.resolve("secrets.key"), empty.resolve("secrets.key"));
        try (TestServer server = Installation.start(empty, postgres.url(), Config.Storage.DATABASE)) {
            assertThat(Installation.cloneHead(server, source.admin(), dir.resolve("work"), "tool"))
                    .isEqualTo(source.pushed());
        }
    }
}
