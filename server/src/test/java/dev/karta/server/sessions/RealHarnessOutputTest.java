package dev.karta.server.sessions;

import static org.assertj.core.api.Assertions.assertThat;

import dev.karta.server.Config;
import dev.karta.server.testkit.TestServer.Response;
import dev.karta.server.sessions.StreamingTest.Event;
import java.net.URISyntaxException;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Collectors;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Turns whose harness replays what the real CLIs printed (test resources {@code harness-output/}:
 * Claude Code 2.1.197 and OpenCode 1.18.33 run against a local stand-in for the model API, the
 * lines trimmed of long lists such as {@code tools}, and the stderr kept byte for byte). The
 * message names the recording and the exit status: {@code "claude-two-steps 0"}.
 */
class RealHarnessOutputTest {
    @TempDir
    static Path dir;
    static SessionFixture f;

    @BeforeAll
    static void start() throws URISyntaxException {
        Path recordings = Path.of(RealHarnessOutputTest.class.getResource("/harness-output").toURI());
        String replay = """
                read -r name status rest
                cat '%1$s'/"$name".jsonl
                if [ -f '%1$s'/"$name".stderr ]; then cat '%1$s'/"$name".stderr >&2; fi
                exit "$status"
                """.formatted(recordings);
        Path claude = FakeHarness.script(dir.resolve("replay/claude"), replay);
        Path opencode = FakeHarness.script(dir.resolve("replay/opencode"), replay);
        f = SessionFixture.start(dir, s -> new Config.SessionSettings(claude.toString(), opencode.toString(),
                s.idleTimeout(), s.turnTimeout(), s.maxConcurrentTurns(), s.maxMessageBytes(), s.maxTurnOutputBytes(),
                s.harnessEnvironment()), 0);
        f.publish("real-claude", SessionFixture.claudeApp("unused"));
        f.publish("real-opencode", SessionFixture.opencodeApp("unused"));
    }

    @AfterAll
    static void stop() {
        f.close();
    }

    private static List<Event> stream(String project, String session, String text) {
        Response r = f.stream(project, session, text, false);
        assertThat(r.status()).as(r.body()).isEqualTo(200);
        return StreamingTest.events(r.body());
    }

    private static List<String> names(List<Event> events) {
        return events.stream().map(Event::name).toList();
    }

    private static String texts(List<Event> events, String name) {
        return events.stream().filter(e -> e.name().equals(name)).map(e -> e.data().get("text").asText())
                .collect(Collectors.joining("|"));
    }

    @Test
    void claude_two_steps_stream_their_tokens_once_and_complete_with_both_steps() {
        List<Event> events = stream("real-claude", f.open("real-claude"), "claude-two-steps 0");

        assertThat(texts(events, "message.delta")).isEqualTo("Let me| check.|\n\nIt ships| tomorrow.");
        assertThat(events.get(events.size() - 1).name()).isEqualTo("message.completed");
        assertThat(events.get(events.size() - 1).data().at("/message/text").asText())
                .as("the result event holds only the last step").isEqualTo("Let me check.\n\nIt ships tomorrow.");
    }

    @Test
    void claude_api_retries_are_progress() {
        List<Event> events = stream("real-claude", f.open("real-claude"), "claude-api-retries 1");

        assertThat(names(events)).containsExactly("message.progress", "message.progress", "message.progress",
                "error");
        assertThat(texts(events, "message.progress")).isEqualTo("claude: API retry 1/10 in 0.5 s: overloaded (529)"
                + "|claude: API retry 2/10 in 1.1 s: overloaded (529)|claude: API retry 3/10 in 2.3 s: overloaded (529)");
    }

    @Test
    void claude_not_logged_in_is_a_failure_worded_as_one() {
        String session = f.open("real-claude");
        Response r = f.message("real-claude", session, "claude-not-logged-in 1");

        assertThat(r.status()).isEqualTo(502);
        assertThat(r.json().get("message").asText()).isEqualTo("claude failed: Not logged in · Please run /login");
        assertThat(names(stream("real-claude", session, "claude-not-logged-in 1"))).containsExactly("error");
    }

    @Test
    void claude_refusing_an_unknown_resume_id_is_409_session_state_lost() {
        String session = f.open("real-claude");
        Response first = f.message("real-claude", session, "claude-unknown-resume 1");
        assertThat(first.status()).as("nothing was resumed on a first turn").isEqualTo(502);
        assertThat(f.ask("real-claude", session, "claude-one-step 0")).isEqualTo("Hello from stand-in");

        Response lost = f.message("real-claude", session, "claude-unknown-resume 1");

        assertThat(lost.status()).isEqualTo(409);
        assertThat(lost.json().get("error").asText()).isEqualTo("session_state_lost");
        assertThat(lost.json().get("message").asText()).isEqualTo("claude cannot resume this session's conversation, "
                + "its saved state is gone (claude failed: No conversation found with session ID: "
                + "3e83af63-6cbd-40ff-a388-000000000000); open a new session");
    }

    @Test
    void opencode_two_steps_complete_with_both_steps_apart() {
        List<Event> events = stream("real-opencode", f.open("real-opencode"), "opencode-two-steps 0");

        assertThat(texts(events, "message.delta")).isEqualTo("Let me check.|\n\nIt ships tomorrow.");
        assertThat(events.get(events.size() - 1).data().at("/message/text").asText())
                .isEqualTo("Let me check.\n\nIt ships tomorrow.");
    }

    @Test
    void opencode_refusing_an_unknown_session_is_409_session_state_lost_without_its_colours() {
        String session = f.open("real-opencode");
        assertThat(f.ask("real-opencode", session, "opencode-one-step 0")).isEqualTo("Hello from stand-in");

        Response lost = f.message("real-opencode", session, "opencode-unknown-session 1");

        assertThat(lost.status()).isEqualTo(409);
        assertThat(lost.json().get("error").asText()).isEqualTo("session_state_lost");
        assertThat(lost.json().get("message").asText()).isEqualTo("opencode cannot resume this session's "
                + "conversation, its saved state is gone (opencode exited with status 1: Error: Session not found); "
                + "open a new session");
    }
}
