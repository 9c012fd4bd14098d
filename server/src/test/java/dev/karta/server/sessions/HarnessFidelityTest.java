package dev.karta.server.sessions;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.karta.server.Config;
import dev.karta.server.store.Database;
import dev.karta.server.testkit.TestServer.Response;
import dev.karta.server.sessions.StreamingTest.Event;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * What the real CLIs showed a turn must get right: the message reaches the harness unchanged
 * (on stdin), Claude Code streams token by token and says when it retries its API, the streamed
 * deltas add up to the completed message exactly, harness errors read as errors without terminal
 * escapes, and a conversation the harness no longer has is one clear 409 session_state_lost.
 */
class HarnessFidelityTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final AtomicInteger SEQUENCE = new AtomicInteger();
    /** Above Linux's 128 KiB cap on one argv entry (MAX_ARG_STRLEN). */
    private static final int BIG_MESSAGE_LIMIT = 300_000;

    @TempDir
    static Path dir;
    static SessionFixture f;

    @BeforeAll
    static void start() {
        f = SessionFixture.start(dir, s -> new Config.SessionSettings(s.claudeExecutable(), s.opencodeExecutable(),
                s.idleTimeout(), s.turnTimeout(), s.maxConcurrentTurns(), BIG_MESSAGE_LIMIT, s.maxTurnOutputBytes(),
                s.harnessEnvironment()), 0);
    }

    @AfterAll
    static void stop() {
        f.close();
    }

    private static String claudeProject(String answer) {
        String p = "fid-cc-" + SEQUENCE.incrementAndGet();
        f.publish(p, SessionFixture.claudeApp(answer));
        return p;
    }

    private static String opencodeProject(String answer) {
        String p = "fid-oc-" + SEQUENCE.incrementAndGet();
        f.publish(p, SessionFixture.opencodeApp(answer));
        return p;
    }

    private static List<String> spyArgv(String harness) {
        try {
            return JSON.readValue(f.spyFile(harness + ".argv"),
                    JSON.getTypeFactory().constructCollectionType(List.class, String.class));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static List<Event> stream(String project, String session, String text) {
        Response r = f.stream(project, session, text, false);
        assertThat(r.status()).as(r.body()).isEqualTo(200);
        return StreamingTest.events(r.body());
    }

    private static String deltas(List<Event> events) {
        return events.stream().filter(e -> e.name().equals("message.delta"))
                .map(e -> e.data().get("text").asText()).collect(Collectors.joining());
    }

    private static String completed(List<Event> events) {
        assertThat(events).last().extracting(Event::name).isEqualTo("message.completed");
        return events.get(events.size() - 1).data().at("/message/text").asText();
    }

    // --- the message on stdin

    @Test
    void the_message_reaches_claude_on_stdin_byte_for_byte_and_never_in_argv() {
        String p = claudeProject("ok");
        String text = "--where is my \"order\"?\n\tsecond line, 'quoted', $HOME é 🙂 ";

        assertThat(f.ask(p, f.open(p), text)).isEqualTo("ok");

        assertThat(f.spyFile("claude.prompt")).isEqualTo(text);
        assertThat(spyArgv("claude")).containsExactly("-p", "--output-format", "stream-json", "--verbose",
                "--include-partial-messages");
    }

    @Test
    void the_message_reaches_opencode_on_stdin_byte_for_byte_and_never_in_argv() {
        String p = opencodeProject("ok oc");
        String text = "where is my \"order\"?\n-- and when?";

        assertThat(f.ask(p, f.open(p), text)).isEqualTo("ok oc");

        assertThat(f.spyFile("opencode.prompt")).isEqualTo(text);
        assertThat(spyArgv("opencode")).containsExactly("run", "--format", "json");
    }

    @Test
    void a_message_larger_than_one_argv_entry_reaches_the_harness_whole() {
        String p = claudeProject("big ok");
        String text = "x".repeat(BIG_MESSAGE_LIMIT - 1) + "!";

        assertThat(f.ask(p, f.open(p), text)).isEqualTo("big ok");

        assertThat(f.spyFile("claude.prompt")).isEqualTo(text);
        Response tooLong = f.message(p, f.open(p), text + "y");
        assertThat(tooLong.status()).isEqualTo(413);
        assertThat(tooLong.json().get("error").asText()).isEqualTo("message_too_large");
    }

    @Test
    void a_harness_that_never_reads_its_stdin_still_answers(@TempDir Path other) {
        // 200 KB out before anything else, 100 KB in never read: both pipes full if the turn wrote
        // the message before reading the output.
        Path deaf = FakeHarness.script(other.resolve("bin/deaf-claude"), """
                pad=$(printf '%01000d' 0)
                i=0
                while [ $i -lt 200 ]; do echo "{\\"type\\":\\"noise\\",\\"data\\":\\"$pad\\"}"; i=$((i+1)); done
                echo '{"type":"system","subtype":"init","session_id":"deaf-1"}'
                echo '{"type":"result","subtype":"success","is_error":false,"result":"not listening","session_id":"deaf-1"}'
                """);
        try (SessionFixture g = SessionFixture.start(other, s -> SessionFixture.with(s, deaf.toString(),
                s.idleTimeout(), s.turnTimeout(), s.maxConcurrentTurns(), s.maxTurnOutputBytes()), 0)) {
            g.publish("deaf", SessionFixture.claudeApp("unused"));
            String session = g.open("deaf");

            Response r = g.message("deaf", session, "z".repeat(100_000));

            assertThat(r.status()).as(r.body()).isEqualTo(200);
            assertThat(r.json().at("/message/text").asText()).as("the result's text when nothing was streamed")
                    .isEqualTo("not listening");
        }
    }

    // --- streaming: tokens, progress, deltas that add up

    @Test
    void claude_streams_its_reply_token_by_token() {
        String p = claudeProject("your order ships tomorrow");

        List<Event> events = stream(p, f.open(p), "when?");

        assertThat(events).extracting(Event::name).containsExactly("message.delta", "message.delta",
                "message.delta", "message.delta", "message.completed");
        assertThat(events.subList(0, 4)).extracting(e -> e.data().get("text").asText())
                .containsExactly("your ", "order ", "ships ", "tomorrow");
        assertThat(completed(events)).isEqualTo("your order ships tomorrow");
    }

    @Test
    void claude_deltas_add_up_to_the_completed_message_over_several_steps() {
        String p = claudeProject("unused");
        String session = f.open(p);

        List<Event> events = stream(p, session, "parts");

        assertThat(completed(events)).as("every step, not only the last one, and no subagent text")
                .isEqualTo("first\n\nsecond");
        assertThat(deltas(events)).isEqualTo(completed(events));
        assertThat(f.ask(p, session, "parts")).isEqualTo("first\n\nsecond");
    }

    @Test
    void opencode_deltas_add_up_to_the_completed_message_over_several_steps() {
        String p = opencodeProject("unused");
        String session = f.open(p);

        List<Event> events = stream(p, session, "parts");

        assertThat(completed(events)).as("steps apart, not glued").isEqualTo("first\n\nsecond");
        assertThat(deltas(events)).isEqualTo(completed(events));
        assertThat(f.ask(p, session, "parts")).isEqualTo("first\n\nsecond");
    }

    @Test
    void claude_api_retries_stream_as_progress_events() {
        String p = claudeProject("after retries");

        List<Event> events = stream(p, f.open(p), "retry:2");

        assertThat(events).extracting(Event::name).startsWith("message.progress", "message.progress",
                "message.delta").endsWith("message.completed");
        JsonNode first = events.get(0).data();
        assertThat(first.get("message_id").asText()).isEqualTo(events.get(events.size() - 1).data()
                .at("/message/id").asText());
        assertThat(first.get("text").asText()).isEqualTo("claude: API retry 1/10 in 0.5 s: overloaded (529)");
        assertThat(events.get(1).data().get("text").asText())
                .isEqualTo("claude: API retry 2/10 in 1.1 s: overloaded (529)");
        assertThat(completed(events)).isEqualTo("after retries");
        assertThat(deltas(events)).isEqualTo("after retries");
    }

    // --- errors that read as errors

    @Test
    void a_claude_error_result_reads_as_a_failure_and_streams_no_text() {
        String p = claudeProject("unused");
        String session = f.open(p);

        Response failed = f.message(p, session, "notloggedin");

        assertThat(failed.status()).isEqualTo(502);
        assertThat(failed.json().get("error").asText()).isEqualTo("harness_failed");
        assertThat(failed.json().get("message").asText()).isEqualTo("claude failed: Not logged in · Please run /login");
        List<Event> events = stream(p, session, "notloggedin");
        assertThat(events).extracting(Event::name).containsExactly("error");
    }

    @Test
    void terminal_control_sequences_are_stripped_from_harness_stderr() {
        String p = opencodeProject("unused");

        Response failed = f.message(p, f.open(p), "ansi");

        assertThat(failed.status()).isEqualTo(502);
        String message = failed.json().get("message").asText();
        assertThat(message).endsWith("opencode exited with status 1; stderr ends: Error: boom went wrong")
                .doesNotContain("pwned");
        assertThat(message.chars()).noneMatch(c -> c < 0x20 || c >= 0x7f && c <= 0x9f);
    }

    // --- harness state that is gone

    @Test
    void a_claude_conversation_gone_from_the_harness_state_is_409_session_state_lost() throws IOException {
        String p = claudeProject("remembered");
        String session = f.open(p);
        f.ask(p, session, "hello");
        assertThat(f.ask(p, session, "history")).as("resumed with its transcript").isEqualTo("[\"hello\"]");

        lose(session, ".claude");
        Response lost = f.message(p, session, "still there?");

        assertThat(lost.status()).as(lost.body()).isEqualTo(409);
        assertThat(lost.json().get("error").asText()).isEqualTo("session_state_lost");
        assertThat(lost.json().get("message").asText())
                .startsWith("claude cannot resume this session's conversation, its saved state is gone")
                .contains("No conversation found with session ID: claude-conv-")
                .endsWith("; open a new session");
        assertThat(f.session(p, session).json().get("status").asText()).isEqualTo("idle");
        List<Event> streamed = stream(p, session, "and now?");
        assertThat(streamed).extracting(Event::name).containsExactly("error");
        assertThat(streamed.get(0).data().get("error").asText()).isEqualTo("session_state_lost");

        String fresh = f.open(p);
        assertThat(f.ask(p, fresh, "hello again")).as("a new session works").isEqualTo("remembered");
    }

    @Test
    void an_opencode_session_gone_from_the_harness_state_is_409_session_state_lost() throws IOException {
        String p = opencodeProject("oc remembered");
        String session = f.open(p);
        f.ask(p, session, "hello");
        assertThat(f.ask(p, session, "history")).isEqualTo("[\"hello\"]");

        lose(session, ".local/share/opencode");
        Response lost = f.message(p, session, "still there?");

        assertThat(lost.status()).as(lost.body()).isEqualTo(409);
        assertThat(lost.json().get("error").asText()).isEqualTo("session_state_lost");
        assertThat(lost.json().get("message").asText())
                .startsWith("opencode cannot resume this session's conversation, its saved state is gone")
                .contains("Session not found").doesNotContain("\u001b").endsWith("; open a new session");
    }

    @Test
    void an_opencode_error_event_saying_the_session_is_gone_is_409_once_resuming() {
        String p = opencodeProject("oc");
        String session = f.open(p);

        Response first = f.message(p, session, "gone");
        assertThat(first.status()).as("a first turn resumes nothing: the harness failed").isEqualTo(502);
        f.ask(p, session, "hello");
        Response resumed = f.message(p, session, "gone");

        assertThat(resumed.status()).isEqualTo(409);
        assertThat(resumed.json().get("error").asText()).isEqualTo("session_state_lost");
        assertThat(resumed.json().get("message").asText()).contains("Session not found: ses_");
    }

    /** Loses a session's harness state: its saved copy in the store and the folder in its HOME. */
    private void lose(String session, String folder) throws IOException {
        try (Database db = Database.open(Config.sqliteUrl(dir.resolve("data")))) {
            db.withHandle(h -> h.createUpdate("DELETE FROM session_state WHERE session_id = :s")
                    .bind("s", session).execute());
        }
        wipe(dir.resolve("data/workspaces").resolve(session).resolve("home").resolve(folder));
    }

    private static void wipe(Path tree) throws IOException {
        assertThat(tree).isDirectory();
        try (Stream<Path> walk = Files.walk(tree)) {
            for (Path path : walk.sorted(Comparator.reverseOrder()).toList()) {
                Files.delete(path);
            }
        }
    }
}
