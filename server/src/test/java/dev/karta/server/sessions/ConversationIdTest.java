package dev.karta.server.sessions;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The conversation id a harness reports comes from tenant code: only an id that looks like one is
 * handed back to the harness on the next turn, never one that would read as an option.
 */
class ConversationIdTest {
    /** Reports an option as its conversation id and answers with the argv it got. */
    private static final String OPTION_AS_ID = """
            cat >/dev/null
            echo '{"type":"system","subtype":"init","session_id":"--dangerously-skip-permissions"}'
            args="$*"
            echo "{\\"type\\":\\"result\\",\\"subtype\\":\\"success\\",\\"is_error\\":false,\\"result\\":\\"$args\\",\\"session_id\\":\\"--dangerously-skip-permissions\\"}"
            """;

    @TempDir
    Path dir;

    @Test
    void an_id_that_reads_as_an_option_is_never_passed_back() {
        Path claude = FakeHarness.script(dir.resolve("evil/claude"), OPTION_AS_ID);
        try (SessionFixture f = SessionFixture.start(dir, s -> SessionFixture.with(s, claude.toString(),
                s.idleTimeout(), s.turnTimeout(), s.maxConcurrentTurns(), s.maxTurnOutputBytes()), 0)) {
            f.server.post("/agent_projects", f.admin, "{\"name\":\"ids\"}");
            f.publish("ids", SessionFixture.claudeApp("unused"));
            String session = f.open("ids");

            f.ask("ids", session, "first");
            String second = f.ask("ids", session, "second");

            assertThat(second).contains("-p").doesNotContain("--resume", "--dangerously-skip-permissions");
            assertThat(f.session("ids", session).json().toString()).doesNotContain("dangerously");
        }
    }
}
