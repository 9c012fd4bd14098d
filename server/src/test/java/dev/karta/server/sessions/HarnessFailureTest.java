package dev.karta.server.sessions;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.karta.server.testkit.TestServer.Response;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A harness that is missing, exits non-zero, prints garbage or too much, reports an error, or
 * hangs gives a clear error answer (502 harness_failed, 504 harness_timeout), is killed with its
 * children, and leaves the session usable: the next message is answered.
 */
class HarnessFailureTest {
    @TempDir
    static Path dir;
    static SessionFixture f;

    @BeforeAll
    static void start() {
        f = SessionFixture.start(dir, s -> SessionFixture.with(s, s.claudeExecutable(), s.idleTimeout(),
                Duration.ofSeconds(2), s.maxConcurrentTurns(), 64 * 1024), 0);
    }

    @AfterAll
    static void stop() {
        f.close();
    }

    /** Sends {@code text}, expects {@code status} with {@code code}, then a good answer on the same session. */
    static Response failsThenRecovers(String project, String text, int status, String code) {
        String session = f.open(project);
        Response failed = f.message(project, session, text);
        assertThat(failed.status()).as(failed.body()).isEqualTo(status);
        assertThat(failed.json().get("error").asText()).isEqualTo(code);
        assertThat(f.session(project, session).json().get("status").asText()).isEqualTo("idle");
        assertThat(f.ask(project, session, "are you back?")).isEqualTo("ok " + project);
        assertThat(f.session(project, session).json().get("turns").asInt()).isEqualTo(2);
        return failed;
    }

    @Test
    void non_zero_exit_is_502_quoting_stderr_and_the_session_stays_usable() {
        f.publish("fail-exit", SessionFixture.claudeApp("ok fail-exit"));
        Response failed = failsThenRecovers("fail-exit", "exit:3", 502, "harness_failed");
        assertThat(failed.json().get("message").asText())
                .contains("claude exited with status 3").contains("boom: something broke");
    }

    @Test
    void garbage_output_is_502_and_the_session_stays_usable() {
        f.publish("fail-garbage", SessionFixture.claudeApp("ok fail-garbage"));
        Response failed = failsThenRecovers("fail-garbage", "garbage", 502, "harness_failed");
        assertThat(failed.json().get("message").asText())
                .contains("without a result event").contains("not claude JSON lines").contains("this is not json");
    }

    @Test
    void opencode_garbage_is_502_too() {
        f.publish("fail-oc-garbage", SessionFixture.opencodeApp("ok fail-oc-garbage"));
        Response failed = failsThenRecovers("fail-oc-garbage", "garbage", 502, "harness_failed");
        assertThat(failed.json().get("message").asText())
                .contains("without a step_finish event").contains("not opencode JSON lines");
    }

    @Test
    void a_claude_error_result_is_502_with_its_reason() {
        f.publish("fail-claude-error", SessionFixture.claudeApp("ok fail-claude-error"));
        Response failed = failsThenRecovers("fail-claude-error", "error", 502, "harness_failed");
        assertThat(failed.json().get("message").asText())
                .isEqualTo("claude failed: model overloaded");
    }

    @Test
    void an_opencode_error_event_is_502_even_with_exit_status_0() {
        f.publish("fail-oc-error", SessionFixture.opencodeApp("ok fail-oc-error"));
        Response failed = failsThenRecovers("fail-oc-error", "error", 502, "harness_failed");
        assertThat(failed.json().get("message").asText())
                .isEqualTo("opencode failed: no credentials for the provider");
    }

    @Test
    void a_hanging_harness_is_504_and_killed_with_its_children() {
        f.publish("fail-hang", SessionFixture.claudeApp("ok fail-hang"));
        Response failed = failsThenRecovers("fail-hang", "hang", 504, "harness_timeout");
        assertThat(failed.json().get("message").asText()).contains("did not finish within 2s");

        f.pid("child.pid");
        assertThat(f.spyFile("claude.pid")).as("the recovering turn ran a new harness").isNotBlank();
        await().atMost(Duration.ofSeconds(5)).until(() -> !f.childRunning());
        assertThat(f.sessionLog("fail-hang")).anyMatch(line -> line.contains("failed after")
                && line.contains("did not finish within 2s"));
    }

    @Test
    void output_past_the_limit_is_502_and_the_harness_is_killed() {
        f.publish("fail-huge", SessionFixture.claudeApp("ok fail-huge"));
        String session = f.open("fail-huge");
        Response failed = f.message("fail-huge", session, "huge");
        assertThat(failed.status()).as(failed.body()).isEqualTo(502);
        assertThat(failed.json().get("message").asText()).contains("printed more than 65536 bytes");
        await().atMost(Duration.ofSeconds(5)).until(() -> !f.claudeRunning());
        assertThat(f.ask("fail-huge", session, "again")).isEqualTo("ok fail-huge");
    }

    @Test
    void an_orphan_holding_stdout_does_not_keep_the_turn_open_and_is_killed() {
        f.publish("fail-orphan", SessionFixture.claudeApp("ok fail-orphan"));
        String session = f.open("fail-orphan");

        Response answered = f.message("fail-orphan", session, "orphan");

        assertThat(answered.status()).as("answered before the 2s turn timeout: " + answered.body()).isEqualTo(200);
        assertThat(answered.json().at("/message/text").asText()).isEqualTo("ok fail-orphan");
        f.pid("child.pid");
        await().atMost(Duration.ofSeconds(5)).until(() -> !f.childRunning());
    }

    @Test
    void a_missing_harness_binary_is_502_naming_the_flag_and_the_session_stays_usable(@TempDir Path other) {
        try (SessionFixture missing = SessionFixture.start(other, s -> SessionFixture.with(s,
                other.resolve("no-such-claude").toString(), s.idleTimeout(), s.turnTimeout(), s.maxConcurrentTurns(),
                s.maxTurnOutputBytes()), 0)) {
            missing.publish("fail-missing", SessionFixture.claudeApp("ok"));
            String claudeSession = missing.open("fail-missing");

            Response failed = missing.message("fail-missing", claudeSession, "hello");

            assertThat(failed.status()).isEqualTo(502);
            assertThat(failed.json().get("error").asText()).isEqualTo("harness_failed");
            assertThat(failed.json().get("message").asText())
                    .contains("could not start claude").contains("No such file or directory").contains("--harness-claude");
            assertThat(missing.session("fail-missing", claudeSession).json().get("status").asText()).isEqualTo("idle");
            assertThat(missing.message("fail-missing", claudeSession, "again").status())
                    .as("usable: tried again, not 409").isEqualTo(502);
            missing.publish("fail-missing-oc", SessionFixture.opencodeApp("ok oc"));
            assertThat(missing.ask("fail-missing-oc", missing.open("fail-missing-oc"), "hi")).isEqualTo("ok oc");
        }
    }

    @Test
    void a_harness_that_is_not_executable_is_502(@TempDir Path other) throws Exception {
        Path notExecutable = java.nio.file.Files.writeString(other.resolve("claude.txt"), "not a program");
        try (SessionFixture broken = SessionFixture.start(other, s -> SessionFixture.with(s, notExecutable.toString(),
                s.idleTimeout(), s.turnTimeout(), s.maxConcurrentTurns(), s.maxTurnOutputBytes()), 0)) {
            broken.publish("fail-noexec", SessionFixture.claudeApp("ok"));
            Response failed = broken.message("fail-noexec", broken.open("fail-noexec"), "hello");
            assertThat(failed.status()).isEqualTo(502);
            assertThat(failed.json().get("message").asText()).contains("Permission denied");
        }
    }
}
