package dev.karta.server.sessions;

import static org.assertj.core.api.Assertions.assertThat;

import dev.karta.server.testkit.TestServer.Response;
import java.nio.file.Path;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The promise of sessions (docs/sessions.md): a session answers from the release it was pinned to at creation,
 * whatever deploys and rollbacks do to the project's pointer; new sessions get the active one.
 * The fake harness answers the content of {@code answer.txt} in its working directory, so each
 * answer names the release tree the turn ran in.
 */
class CutoverTest {
    @TempDir
    static Path dir;
    static SessionFixture f;

    @BeforeAll
    static void start() {
        f = SessionFixture.start(dir);
    }

    @AfterAll
    static void stop() {
        f.close();
    }

    @Test
    void session_answers_from_its_release_across_deploy_rollback_and_forward() {
        String p = "cutover-shop";
        assertThat(f.publish(p, SessionFixture.claudeApp("answer of v1"))).isEqualTo("v1");
        String session = f.open(p);
        assertThat(f.ask(p, session, "where is my order?")).isEqualTo("answer of v1");

        assertThat(f.publish(p, SessionFixture.claudeApp("answer of v2"))).isEqualTo("v2");
        assertThat(f.ask(p, session, "and now?")).isEqualTo("answer of v1");

        f.rollback(p, "v1");
        assertThat(f.ask(p, session, "after the rollback?")).isEqualTo("answer of v1");

        f.rollback(p, "v2");
        assertThat(f.ask(p, session, "forward again?")).isEqualTo("answer of v1");
        assertThat(f.session(p, session).json().at("/project/version").asText()).isEqualTo("v1");
        assertThat(f.session(p, session).json().get("turns").asInt()).isEqualTo(4);
    }

    @Test
    void new_sessions_follow_the_current_release() {
        String p = "cutover-follow";
        f.publish(p, SessionFixture.claudeApp("follow v1"));
        String first = f.open(p);
        f.publish(p, SessionFixture.claudeApp("follow v2"));
        String second = f.open(p);
        f.rollback(p, "v1");
        String third = f.open(p);

        assertThat(f.session(p, first).json().at("/project/version").asText()).isEqualTo("v1");
        assertThat(f.session(p, second).json().at("/project/version").asText()).isEqualTo("v2");
        assertThat(f.session(p, third).json().at("/project/version").asText()).isEqualTo("v1");
        assertThat(f.ask(p, second, "hi")).isEqualTo("follow v2");
        assertThat(f.ask(p, third, "hi")).isEqualTo("follow v1");
    }

    @Test
    void a_running_turn_finishes_on_its_release_while_a_deploy_activates_and_rolls_back() {
        String p = "cutover-midturn";
        f.publish(p, SessionFixture.claudeApp("midturn v1"));
        String session = f.open(p);
        CompletableFuture<Response> turn = CompletableFuture.supplyAsync(() -> f.message(p, session, "wait:midturn"));
        f.awaitWaiting("midturn");

        f.publish(p, SessionFixture.claudeApp("midturn v2"));
        f.rollback(p, "v1");
        f.rollback(p, "v2");
        f.release("midturn");

        Response answered = turn.join();
        assertThat(answered.status()).as(answered.body()).isEqualTo(200);
        assertThat(answered.json().at("/message/text").asText()).isEqualTo("midturn v1");
    }

    @Test
    void opencode_sessions_are_pinned_too() {
        String p = "cutover-opencode";
        f.publish(p, SessionFixture.opencodeApp("opencode v1"));
        String session = f.open(p);
        assertThat(f.session(p, session).json().get("harness").asText()).isEqualTo("opencode");
        f.publish(p, SessionFixture.opencodeApp("opencode v2"));
        assertThat(f.ask(p, session, "hello")).isEqualTo("opencode v1");
        assertThat(f.ask(p, f.open(p), "hello")).isEqualTo("opencode v2");
    }
}
