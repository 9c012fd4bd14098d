package dev.karta.server.sessions;

import static org.assertj.core.api.Assertions.assertThat;

import dev.karta.server.Config;
import dev.karta.server.testkit.TestServer.Response;
import dev.karta.server.testkit.TestServer;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * One turn at a time per session, enforced in the database: a message while a turn runs is 409,
 * on this server or on another one sharing the database. Other sessions are not held up.
 */
class TurnConcurrencyTest {
    @TempDir
    static Path dir;
    static SessionFixture f;

    @BeforeAll
    static void start() {
        f = SessionFixture.start(dir, s -> SessionFixture.with(s, s.claudeExecutable(), s.idleTimeout(),
                s.turnTimeout(), 8, s.maxTurnOutputBytes()), 0);
        f.publish("busy", SessionFixture.claudeApp("busy answer"));
    }

    @AfterAll
    static void stop() {
        f.close();
    }

    @Test
    void a_message_while_a_turn_runs_is_409_and_the_running_turn_still_answers() {
        String session = f.open("busy");
        CompletableFuture<Response> first = CompletableFuture.supplyAsync(() -> f.message("busy", session, "wait:second"));
        f.awaitWaiting("second");
        assertThat(f.session("busy", session).json().get("status").asText()).isEqualTo("running");

        Response second = f.message("busy", session, "me too");

        assertThat(second.status()).isEqualTo(409);
        assertThat(second.json().get("error").asText()).isEqualTo("turn_in_progress");
        f.release("second");
        assertThat(first.join().status()).isEqualTo(200);
        assertThat(f.session("busy", session).json().get("turns").asInt()).isEqualTo(1);
        assertThat(f.ask("busy", session, "now?")).isEqualTo("busy answer");
    }

    @Test
    void concurrent_messages_on_one_session_run_exactly_one_turn() throws Exception {
        String session = f.open("busy");
        int senders = 6;
        CountDownLatch go = new CountDownLatch(1);
        ExecutorService pool = Executors.newFixedThreadPool(senders);
        List<Future<Response>> answers = new ArrayList<>();
        for (int i = 0; i < senders; i++) {
            answers.add(pool.submit(() -> {
                go.await();
                return f.message("busy", session, "sleep:0.5");
            }));
        }
        go.countDown();
        List<Integer> statuses = new ArrayList<>();
        for (Future<Response> answer : answers) {
            statuses.add(answer.get().status());
        }
        pool.shutdown();

        assertThat(statuses).containsOnly(200, 409);
        assertThat(statuses).filteredOn(s -> s == 200).hasSize(1);
        assertThat(f.session("busy", session).json().get("turns").asInt()).isEqualTo(1);
    }

    @Test
    void the_one_turn_rule_holds_across_two_servers_sharing_the_database() {
        Config config = f.server.server().config();
        Config second = config.toBuilder().port(0).publicUrl(null).bootstrapKey(null).build();
        try (TestServer other = TestServer.start(second)) {
            String session = f.open("busy");
            CompletableFuture<Response> first = CompletableFuture.supplyAsync(() -> f.message("busy", session,
                    "wait:two-servers"));
            f.awaitWaiting("two-servers");

            Response elsewhere = other.post("/v1/projects/busy/sessions/" + session + "/messages", f.writer,
                    "{\"text\":\"from the other server\"}");

            assertThat(elsewhere.status()).as(elsewhere.body()).isEqualTo(409);
            assertThat(elsewhere.json().get("error").asText()).isEqualTo("turn_in_progress");
            f.release("two-servers");
            assertThat(first.join().status()).isEqualTo(200);
            assertThat(other.post("/v1/projects/busy/sessions/" + session + "/messages", f.writer,
                    "{\"text\":\"and now\"}").json().at("/message/text").asText()).isEqualTo("busy answer");
        }
    }

    @Test
    void turns_past_the_server_limit_are_503_and_other_sessions_run_alongside(@TempDir Path other) {
        try (SessionFixture small = SessionFixture.start(other, s -> SessionFixture.with(s, s.claudeExecutable(),
                s.idleTimeout(), s.turnTimeout(), 2, s.maxTurnOutputBytes()), 0)) {
            small.publish("small", SessionFixture.claudeApp("small answer"));
            List<CompletableFuture<Response>> running = new ArrayList<>();
            for (int i = 0; i < 2; i++) {
                String session = small.open("small");
                running.add(CompletableFuture.supplyAsync(() -> small.message("small", session, "wait:limit")));
            }
            org.awaitility.Awaitility.await().atMost(SessionFixture.PATIENCE).until(() -> small.server
                    .get("/v1/projects/small/sessions?status=running", small.reader).json().get("sessions").size() == 2);

            Response refused = small.message("small", small.open("small"), "one more");

            assertThat(refused.status()).isEqualTo(503);
            assertThat(refused.json().get("message").asText()).contains("--max-concurrent-turns");
            small.release("limit");
            running.forEach(turn -> assertThat(turn.join().status()).isEqualTo(200));
            assertThat(small.ask("small", small.open("small"), "room now?")).isEqualTo("small answer");
        }
    }

    @Test
    void stopping_the_server_kills_running_harnesses_and_leaves_their_sessions_idle(@TempDir Path other) {
        SessionFixture stopping = SessionFixture.start(other);
        stopping.publish("stopping", SessionFixture.claudeApp("stopping"));
        String session = stopping.open("stopping");
        CompletableFuture<Response> turn = CompletableFuture.supplyAsync(() -> {
            try {
                return stopping.message("stopping", session, "wait:forever");
            } catch (RuntimeException e) {
                return null;
            }
        });
        stopping.awaitWaiting("forever");
        String url = stopping.server.server().config().databaseUrl();

        long started = System.nanoTime();
        stopping.close();

        // Stopping ends the turn itself (about 0.1 s) instead of waiting for Jetty to interrupt it (about 2.5 s).
        assertThat(Duration.ofNanos(System.nanoTime() - started)).isLessThan(Duration.ofMillis(1500));
        org.awaitility.Awaitility.await().atMost(Duration.ofSeconds(2)).until(() -> !stopping.claudeRunning());
        turn.join();
        try (var db = dev.karta.server.store.Database.open(url)) {
            String status = db.withHandle(h -> h.createQuery("SELECT status FROM sessions WHERE id = :id")
                    .bind("id", session).mapTo(String.class).one());
            assertThat(status).isEqualTo("idle");
        }
    }

    @Test
    void ending_a_session_stops_its_running_turn() {
        String session = f.open("busy");
        CompletableFuture<Response> turn = CompletableFuture.supplyAsync(() -> f.message("busy", session, "wait:never"));
        f.awaitWaiting("never");

        assertThat(f.server.delete("/v1/projects/busy/sessions/" + session, f.writer).status()).isEqualTo(204);

        Response stopped = turn.join();
        assertThat(stopped.status()).isEqualTo(409);
        assertThat(stopped.json().get("error").asText()).isEqualTo("session_ended");
        org.awaitility.Awaitility.await().atMost(Duration.ofSeconds(5)).until(() -> !f.claudeRunning());
        assertThat(f.session("busy", session).json().get("status").asText()).isEqualTo("ended");
    }
}
