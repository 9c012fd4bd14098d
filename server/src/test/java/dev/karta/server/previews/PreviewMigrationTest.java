package dev.karta.server.previews;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.karta.server.store.Database;
import dev.karta.server.store.Dialect;
import dev.karta.server.testkit.EachDatabase;
import dev.karta.server.testkit.TestDatabase;
import java.nio.file.Path;
import org.flywaydb.core.Flyway;
import org.jdbi.v3.core.Jdbi;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.Parameter;
import org.junit.jupiter.params.ParameterizedClass;
import org.junit.jupiter.params.provider.ArgumentsSource;

/**
 * The migration that lets a session name a preview release: on SQLite it rebuilds {@code sessions}
 * (a NOT NULL cannot be dropped there), which must keep every session and everything that names
 * one (turns, harness state), and leave foreign keys enforced afterwards.
 */
@ParameterizedClass(name = "on {0}")
@ArgumentsSource(EachDatabase.class)
class PreviewMigrationTest {
    @Parameter
    TestDatabase database;
    @TempDir
    Path dataDir;

    @Test
    void sessions_their_turns_and_state_survive_the_migration_and_foreign_keys_still_hold() {
        String url = database.config(dataDir).databaseUrl();
        Flyway.configure().dataSource(url, null, null).locations("classpath:" + Dialect.of(url).migrations())
                .target("26").load().migrate();
        Jdbi.create(url).useHandle(h -> {
            h.execute("INSERT INTO orgs (id, name, created_at) VALUES ('org_m', 'm', 1)");
            h.execute("INSERT INTO projects (id, org_id, name, created_at) VALUES ('prj_m', 'org_m', 'mig', 1)");
            h.execute("INSERT INTO releases (id, project_id, number, commit_sha, harness, build_kind, image_ref, "
                    + "content_digest, source, deploy_id, created_at) VALUES ('rel_m', 'prj_m', 1, ?, 'claude', "
                    + "'file_copy', 'none', 'sha256:abc', 'upload', 'dep_m', 1)", "c".repeat(40));
            h.execute("INSERT INTO sessions (id, project_id, release_id, status, metadata, turns, harness_session_id, "
                    + "created_at, updated_at) VALUES ('sess_m', 'prj_m', 'rel_m', 'idle', '{\"k\":\"v\"}', 1, 'hs', 2, 3)");
            h.execute("INSERT INTO session_turns (id, session_id, project_id, status, started_at, finished_at) "
                    + "VALUES ('turn_m', 'sess_m', 'prj_m', 'completed', 2, 3)");
            h.execute("INSERT INTO session_state (session_id, digest, bytes, data, saved_at) VALUES ('sess_m', 'd', 1, ?, 3)",
                    (Object) new byte[] {1});
        });

        try (Database db = Database.open(url)) {
            db.withHandle(h -> {
                assertThat(h.select("SELECT metadata || '/' || harness_session_id || '/' || release_id FROM sessions "
                        + "WHERE id = 'sess_m'").mapTo(String.class).one()).isEqualTo("{\"k\":\"v\"}/hs/rel_m");
                assertThat(h.select("SELECT COUNT(*) FROM session_turns").mapTo(Long.class).one()).isEqualTo(1);
                assertThat(h.select("SELECT COUNT(*) FROM session_state").mapTo(Long.class).one()).isEqualTo(1);
                return null;
            });
            assertThatThrownBy(() -> db.execute("INSERT INTO session_turns (id, session_id, project_id, status, "
                    + "started_at) VALUES ('turn_x', 'sess_none', 'prj_m', 'running', 1)"))
                    .as("turns still name an existing session").isInstanceOf(RuntimeException.class);
            assertThatThrownBy(() -> db.execute("INSERT INTO sessions (id, project_id, status, metadata, created_at, "
                    + "updated_at) VALUES ('sess_none', 'prj_m', 'idle', '{}', 1, 1)"))
                    .as("a session names a release or a preview release").isInstanceOf(RuntimeException.class);
            db.execute("DELETE FROM sessions WHERE id = 'sess_m'");
            db.withHandle(h -> {
                assertThat(h.select("SELECT COUNT(*) FROM session_turns").mapTo(Long.class).one())
                        .as("deleting a session still cascades to its turns").isZero();
                assertThat(h.select("SELECT COUNT(*) FROM session_state").mapTo(Long.class).one()).isZero();
                return null;
            });
        }
    }
}
