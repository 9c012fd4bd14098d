package dev.karta.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.karta.server.store.Database;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/** {@code karta audit list | verify | export} against a real server, with its database edited behind its back. */
class AuditCommandTest {
    @RegisterExtension
    static final CliServer cli = new CliServer();

    @Test
    void list_shows_the_newest_events_with_their_hashes_and_json_has_the_chain() throws Exception {
        assertThat(cli.karta().run("projects", "create", "audited").exitCode()).isZero();

        Run.Result list = cli.karta().run("audit", "list", "--limit", "2");
        assertThat(list.exitCode()).as(list.toString()).isZero();
        List<String> lines = list.stdout().lines().toList();
        assertThat(lines).hasSize(3);
        assertThat(lines.get(0)).startsWith("ID").contains("ACTION", "RESOURCE", "HASH");
        assertThat(lines.get(1)).contains("project.create", "project:audited", "sha256:");

        Run.Result json = cli.karta().run("audit", "list", "--json");
        JsonNode events = new ObjectMapper().readTree(json.stdout()).get("events");
        assertThat(events.get(0).get("prev_hash").asText()).isEqualTo(events.get(1).get("hash").asText());

        Run.Result tooMany = cli.karta().run("audit", "list", "--limit", "5000");
        assertThat(tooMany.exitCode()).isEqualTo(2);
        assertThat(tooMany.stderr()).contains("--limit");
    }

    @Test
    void export_writes_a_file_that_verifies_and_standard_output_gets_the_same_lines() throws Exception {
        assertThat(cli.karta().run("projects", "create", "exported").exitCode()).isZero();

        Run.Result toFile = cli.karta().run("audit", "export", "--since", "30d", "--output", "ledger.jsonl");
        assertThat(toFile.exitCode()).as(toFile.toString()).isZero();
        Path file = cli.home().resolve("ledger.jsonl");
        assertThat(toFile.stderr()).contains("Wrote", "ledger.jsonl");
        assertThat(cli.home().resolve(".ledger.jsonl.partial")).doesNotExist();
        String written = Files.readString(file);
        assertThat(written.lines()).isNotEmpty().allSatisfy(line -> assertThat(line).startsWith("{").contains("\"hash\":"));
        assertThat(written).contains("\"resource\":\"project:exported\"");

        Run.Result toStdout = cli.karta().run("audit", "export");
        assertThat(toStdout.exitCode()).isZero();
        assertThat(toStdout.stdout()).startsWith(written.lines().findFirst().orElseThrow());

        Run.Result bad = cli.karta().run("audit", "export", "--since", "last tuesday", "--output", "bad.jsonl");
        assertThat(bad.exitCode()).isEqualTo(2);
        assertThat(bad.stderr()).contains("RFC 3339");
        assertThat(cli.home().resolve("bad.jsonl")).doesNotExist();
        assertThat(cli.home().resolve(".bad.jsonl.partial")).doesNotExist();
    }

    @Test
    void verify_says_intact_then_names_an_edited_event_and_exits_1() {
        Run.Result intact = cli.karta().run("audit", "verify");
        assertThat(intact.exitCode()).as(intact.toString()).isZero();
        assertThat(intact.stdout()).matches("Verified \\d+ entries: the chain is intact.\\n");

        assertThat(cli.karta().run("projects", "create", "tampered").exitCode()).isZero();
        long id;
        try (Database db = Database.open("jdbc:sqlite:" + cli.dataDir().resolve("karta.db"))) {
            id = db.withHandle(h -> h.createQuery("SELECT id FROM audit_events WHERE resource = 'project:tampered'")
                    .mapTo(Long.class).one());
            db.inTransaction(h -> {
                String trigger = h.createQuery("SELECT sql FROM sqlite_master WHERE name = "
                        + "'audit_events_append_only_update'").mapTo(String.class).one();
                h.execute("DROP TRIGGER audit_events_append_only_update");
                h.execute("UPDATE audit_events SET resource = 'project:innocent' WHERE id = ?", id);
                h.execute(trigger);
                return null;
            });
        }
        try {
            Run.Result broken = cli.karta().run("audit", "verify");
            assertThat(broken.exitCode()).isEqualTo(1);
            assertThat(broken.stdout()).startsWith("The chain is broken at audit event " + id + ": ")
                    .contains("changed after it was written");

            Run.Result json = cli.karta().run("audit", "verify", "--json");
            assertThat(json.exitCode()).isEqualTo(1);
            assertThat(json.stdout()).contains("\"ok\": false", "\"first_break\"");
        } finally {
            // Put the row back: the other tests of the class verify the same org's chain.
            try (Database db = Database.open("jdbc:sqlite:" + cli.dataDir().resolve("karta.db"))) {
                db.inTransaction(h -> {
                    String trigger = h.createQuery("SELECT sql FROM sqlite_master WHERE name = "
                            + "'audit_events_append_only_update'").mapTo(String.class).one();
                    h.execute("DROP TRIGGER audit_events_append_only_update");
                    h.execute("UPDATE audit_events SET resource = 'project:tampered' WHERE id = ?", id);
                    h.execute(trigger);
                    return null;
                });
            }
        }
        assertThat(cli.karta().run("audit", "verify").exitCode()).isZero();
    }
}
