package dev.karta.server.ledger;

import static org.assertj.core.api.Assertions.assertThat;

import dev.karta.api.LedgerVerification;
import dev.karta.server.Config;
import dev.karta.server.audit.AuditLog;
import dev.karta.server.http.Actor;
import dev.karta.server.store.Database;
import dev.karta.server.store.Dialect;
import dev.karta.server.testkit.EachDatabase;
import dev.karta.server.testkit.TestDatabase;
import dev.karta.server.testkit.TestServer;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.flywaydb.core.Flyway;
import org.jdbi.v3.core.Jdbi;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.Parameter;
import org.junit.jupiter.params.ParameterizedClass;
import org.junit.jupiter.params.provider.ArgumentsSource;

/**
 * Rows written before the ledger existed are chained at the first start on the new schema, in
 * order, once; a row without hash written after that is left for verification to name.
 */
@ParameterizedClass(name = "on {0}")
@ArgumentsSource(EachDatabase.class)
class LegacySealTest {
    private static final String ORG = "org_legacy";
    private static final String PROJECT = "prj_legacy";
    private static final int LEGACY_EVENTS = 2 * Chains.PAGE + 3;

    @Parameter
    TestDatabase database;
    @TempDir
    Path dataDir;

    @Test
    void rows_from_before_the_ledger_are_chained_once_at_start_up() {
        Config config = database.config(dataDir);
        String url = config.databaseUrl();
        Flyway.configure().dataSource(url, null, null).locations("classpath:" + Dialect.of(url).migrations())
                .target("23").load().migrate();
        Jdbi.create(url).useHandle(h -> {
            h.execute("INSERT INTO orgs (id, name, created_at) VALUES (?, 'legacy', 1000)", ORG);
            h.execute("INSERT INTO projects (id, org_id, name, created_at) VALUES (?, ?, 'old-shop', 1000)", PROJECT, ORG);
            // More than two pages of them: sealing reads a chain page by page.
            for (int i = 1; i <= LEGACY_EVENTS; i++) {
                h.execute("INSERT INTO audit_events (org_id, actor_key_id, action, resource, created_at, request_id, "
                        + "remote_ip) VALUES (?, 'key_old', 'project.create', ?, ?, 'req', '10.0.0.1')", ORG,
                        "project:old-" + i, 1000L + i);
            }
            for (int n = 1; n <= 2; n++) {
                h.execute("INSERT INTO releases (id, project_id, number, commit_sha, harness, build_kind, image_ref, "
                        + "content_digest, source, deploy_id, created_at, activated_at) VALUES (?, ?, ?, ?, 'claude', "
                        + "'file_copy', 'none', 'sha256:abc', 'upload', 'dep_old', ?, ?)", "rel_old" + n, PROJECT, n,
                        "c".repeat(40), 2000L + n, 2000L + n);
            }
        });

        Map<String, String> firstSeal;
        try (TestServer server = TestServer.start(config); Database db = server.openDatabase()) {
            firstSeal = hashes(db);
            assertThat(firstSeal).hasSize(LEGACY_EVENTS + 2).doesNotContainValue(null);
            assertThat(prevHashes(db, "audit_events", "org_id = '" + ORG + "' ORDER BY id")).first()
                    .isEqualTo(Ledger.GENESIS);
            List<String> releases = prevHashes(db, "releases", "project_id = '" + PROJECT + "' ORDER BY number");
            assertThat(releases.get(0)).isEqualTo(Ledger.GENESIS);
            assertThat(releases.get(1)).isEqualTo(firstSeal.get("rel_old1"));
            assertThat(new LedgerReader(db).verify(ORG)).isEqualTo(new LedgerVerification(true, LEGACY_EVENTS + 2, null));

            db.inTransaction(h -> {
                new AuditLog(db).append(h, new Actor(ORG, "key_new", "req-new", "127.0.0.1"), "api_key.create", "x");
                return null;
            });
            assertThat(new LedgerReader(db).verify(ORG)).isEqualTo(new LedgerVerification(true, LEGACY_EVENTS + 3, null));
            // Written around Karta, after the chain was sealed: no start-up seals it.
            db.execute("INSERT INTO audit_events (org_id, action, resource, created_at) VALUES (?, 'forged', 'x', 1)", ORG);
        }
        try (TestServer server = TestServer.start(config); Database db = server.openDatabase()) {
            Map<String, String> again = hashes(db);
            assertThat(again).containsAllEntriesOf(firstSeal).hasSize(LEGACY_EVENTS + 4).containsValue(null);
            LedgerVerification verified = new LedgerReader(db).verify(ORG);
            assertThat(verified.ok()).isFalse();
            assertThat(verified.checked()).isEqualTo(LEGACY_EVENTS + 1);
            assertThat(verified.firstBreak().reason()).contains("no hash");
        }
    }

    private static Map<String, String> hashes(Database db) {
        Map<String, String> out = new HashMap<>();
        db.withHandle(h -> {
            h.createQuery("SELECT id, hash FROM audit_events WHERE org_id = :org").bind("org", ORG)
                    .map((rs, ctx) -> out.put("event" + rs.getLong("id"), rs.getString("hash"))).list();
            h.createQuery("SELECT id, hash FROM releases WHERE project_id = :p").bind("p", PROJECT)
                    .map((rs, ctx) -> out.put(rs.getString("id"), rs.getString("hash"))).list();
            return null;
        });
        return out;
    }

    private static List<String> prevHashes(Database db, String table, String where) {
        return db.withHandle(h -> h.createQuery("SELECT prev_hash FROM " + table + " WHERE " + where)
                .mapTo(String.class).list());
    }
}
