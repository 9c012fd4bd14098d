package dev.karta.server.sessions;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import dev.karta.server.store.Database;
import dev.karta.server.testkit.TestServer.Response;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * How sessions end on their own: an idle one after the idle timeout (a turn keeps it alive), and
 * a turn whose server stopped is taken as interrupted once its deadline passes.
 */
class SessionLifetimeTest {
    static final Duration IDLE = Duration.ofMillis(1500);
    @TempDir
    static Path dir;
    static SessionFixture f;

    @BeforeAll
    static void start() {
        f = SessionFixture.start(dir, s -> SessionFixture.with(s, s.claudeExecutable(), IDLE, Duration.ofSeconds(10),
                s.maxConcurrentTurns(), s.maxTurnOutputBytes()), 0);
        f.publish("lifetime", SessionFixture.claudeApp("still here"));
    }

    @AfterAll
    static void stop() {
        f.close();
    }

    @Test
    void an_idle_session_ends_after_the_idle_timeout() {
        String session = f.open("lifetime");

        await().atMost(SessionFixture.PATIENCE).until(() ->
                f.session("lifetime", session).json().get("status").asText().equals("ended"));

        JsonNode ended = f.session("lifetime", session).json();
        assertThat(ended.get("end_reason").asText()).isEqualTo("idle_timeout");
        assertThat(Instant.parse(ended.get("ended_at").asText()))
                .isEqualTo(Instant.parse(ended.get("updated_at").asText()).plus(IDLE));
        Response refused = f.message("lifetime", session, "hello?");
        assertThat(refused.status()).isEqualTo(409);
        assertThat(refused.json().get("error").asText()).isEqualTo("session_ended");
        await().atMost(SessionFixture.PATIENCE).until(() -> f.sessionLog("lifetime").stream()
                .anyMatch(line -> line.equals("v1 Session " + session + " ended after 1500ms idle")));
        assertThat(storedStatus(session)).as("the sweeper wrote it down").isEqualTo("ended");
    }

    @Test
    void a_session_with_a_long_turn_is_not_ended_while_the_turn_runs() {
        String session = f.open("lifetime");
        var turn = java.util.concurrent.CompletableFuture.supplyAsync(() -> f.message("lifetime", session, "sleep:2.5"));

        assertThat(turn.join().status()).isEqualTo(200);
        assertThat(f.session("lifetime", session).json().get("status").asText()).isEqualTo("idle");
        assertThat(f.ask("lifetime", session, "and again")).isEqualTo("still here");
    }

    @Test
    void a_turn_interrupted_by_a_stopped_server_is_released_after_its_deadline() {
        String session = f.open("lifetime");
        long past = System.currentTimeMillis() - 1;
        try (Database db = f.server.openDatabase()) {
            db.execute("UPDATE sessions SET status = 'running', turn_id = 'msg_lost', turn_deadline = ?, updated_at = ? "
                    + "WHERE id = ?", past, System.currentTimeMillis(), session);
            db.execute("INSERT INTO session_turns (id, session_id, project_id, status, started_at) "
                    + "SELECT 'msg_lost', id, project_id, 'running', ? FROM sessions WHERE id = ?", past, session);
        }

        await().atMost(SessionFixture.PATIENCE).until(() -> storedStatus(session).equals("idle"));

        assertThat(f.ask("lifetime", session, "back?")).isEqualTo("still here");
        assertThat(f.sessionLog("lifetime")).contains("v1 Turn msg_lost of session " + session
                + " failed: interrupted (the server running it stopped)");
    }

    @Test
    void a_running_turn_before_its_deadline_is_left_alone() {
        String session = f.open("lifetime");
        try (Database db = f.server.openDatabase()) {
            db.execute("UPDATE sessions SET status = 'running', turn_id = 'msg_elsewhere', turn_deadline = ? WHERE id = ?",
                    System.currentTimeMillis() + 60_000, session);
        }
        await().during(IDLE.multipliedBy(2)).atMost(IDLE.multipliedBy(4))
                .until(() -> storedStatus(session).equals("running"));

        assertThat(f.message("lifetime", session, "mine?").status()).isEqualTo(409);
    }

    static String storedStatus(String session) {
        try (Database db = f.server.openDatabase()) {
            return db.withHandle(h -> h.createQuery("SELECT status FROM sessions WHERE id = :id")
                    .bind("id", session).mapTo(String.class).one());
        }
    }
}
