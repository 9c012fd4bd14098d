package dev.karta.server.ingest.git;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import dev.karta.server.testkit.GitRunner;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A tenant's text (here a karta.toml key) reaches the pusher's terminal as {@code remote:} lines
 * and the project's log with its control sequences removed, so it cannot clear the screen, set the window title, ring the
 * bell or print a line that looks like the server's own.
 */
class RemoteLinesTest {
    /** Clear screen, an OSC window title ended by BEL, a CR, and a fake release line after a LF. */
    static final String HOSTILE_KEY = "x\\u001b[2J\\u001b]0;owned\\u0007\\r\\nReleased v999 (fake)\\u009b31m";

    @TempDir
    static Path shared;
    static GitFixture karta;
    static GitFixture.Key writer;

    @TempDir
    Path work;

    @BeforeAll
    static void start() {
        karta = GitFixture.start(shared);
        writer = karta.createKey("pusher", "write");
    }

    @AfterAll
    static void stop() {
        karta.close();
    }

    @Test
    void control_sequences_from_a_karta_toml_reach_the_pusher_removed() {
        Path app = karta.newApp(work.resolve("app"));
        GitFixture.write(app.resolve("karta.toml"), "entry_point = \"CLAUDE.md\"\n\"" + HOSTILE_KEY + "\" = 1\n");
        karta.commitAll(app, "hostile karta.toml");

        GitRunner.Run push = karta.git(app, "push", karta.remote("hostile", writer.secret()), "main").ok();

        String err = push.err();
        assertThat(err).contains("remote: Released v1").doesNotContain("\u001b", "\u0007", "\u009b");
        assertThat(err.lines()).noneMatch(line -> line.startsWith("remote: Released v999"));
        assertThat(err).contains("'x Released v999 (fake)'");
    }

    @Test
    void log_entries_are_stored_as_one_line_without_control_characters() {
        Path app = karta.newApp(work.resolve("app"));
        GitFixture.write(app.resolve("karta.toml"), "entry_point = \"CLAUDE.md\"\n\"" + HOSTILE_KEY + "\" = 1\n");
        karta.commitAll(app, "hostile karta.toml");
        karta.git(app, "push", karta.remote("logged", writer.secret()), "main").ok();

        JsonNode entries = karta.get("/agent_projects/logged/logs?limit=500", karta.adminKey).json().get("entries");

        List<String> messages = new ArrayList<>();
        entries.forEach(e -> messages.add(e.get("message").asText()));
        assertThat(messages).anyMatch(m -> m.contains("Released v999"))
                .allMatch(m -> m.chars().noneMatch(c -> c < 0x20 && c != '\t' || c >= 0x7f && c <= 0x9f));
    }
}
