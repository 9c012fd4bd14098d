package dev.karta.cli;

import static dev.karta.cli.FakeKarta.event;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.sun.net.httpserver.HttpExchange;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The requests {@code karta logs} sends and how {@code --tail} reconnects (docs/logs.md, "CLI
 * contract"), against a scripted server: answers a real server cannot be made to give on demand
 * (503, 429, 401 after a drop) and the exact query and {@code Last-Event-ID} of every request.
 */
class LogTailTest {
    private static final String LOGS = "/agent_projects/shop/logs";

    @TempDir
    Path home;
    FakeKarta fake;
    Run karta;
    final CountDownLatch testOver = new CountDownLatch(1);
    final List<Long> requestTimes = new CopyOnWriteArrayList<>();

    @BeforeEach
    void start() throws IOException {
        fake = new FakeKarta();
        karta = new Run(home).env("KARTA_SERVER", fake.url()).env("KARTA_API_KEY", TestServer.ADMIN_KEY);
    }

    @AfterEach
    void stop() {
        testOver.countDown();
        fake.close();
    }

    /** Answers the n-th request (from 0) to the project's log with {@code answers[n]}, the last one from then on. */
    private void script(FakeKarta.Route... answers) {
        AtomicInteger calls = new AtomicInteger();
        fake.on("GET", LOGS, (exchange, request) -> {
            requestTimes.add(System.nanoTime());
            answers[Math.min(calls.getAndIncrement(), answers.length - 1)].handle(exchange, request);
        });
    }

    private static String entry(long id) {
        return "id: " + id + "\nevent: log\ndata: {\"id\":" + id + ",\"time\":\"2026-06-01T10:00:0" + id
                + "Z\",\"source\":\"build\",\"deploy_id\":\"dep_1\",\"release\":null,\"message\":\"line " + id + "\"}\n\n";
    }

    /** An SSE answer with these entries, then the stream ends. */
    private static FakeKarta.Route entriesThenEnd(long... ids) {
        return (exchange, request) -> {
            OutputStream out = FakeKarta.sse(exchange);
            for (long id : ids) {
                event(out, entry(id));
            }
        };
    }

    /** An SSE answer with these entries and a heartbeat, held open until the test is over. */
    private FakeKarta.Route entriesThenHold(long... ids) {
        return (exchange, request) -> {
            OutputStream out = FakeKarta.sse(exchange);
            event(out, ": ping\n\n");
            for (long id : ids) {
                event(out, entry(id));
            }
            try {
                testOver.await(30, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        };
    }

    private static FakeKarta.Route error(int status, String code, String message) {
        return (HttpExchange exchange, FakeKarta.Request request) -> FakeKarta.json(exchange, status,
                "{\"error\":\"" + code + "\",\"message\":\"" + message + "\"}");
    }

    private Run.Result stopWhen(Run.Running tail, int lines) {
        await().atMost(Duration.ofSeconds(20)).until(() -> tail.stdout().lines().count() >= lines);
        tail.pressCtrlC();
        return tail.await(Duration.ofSeconds(10));
    }

    private static double seconds(long nanos) {
        return nanos / 1e9;
    }

    @Test
    void history_sends_the_options_as_query_parameters() {
        script((exchange, request) -> FakeKarta.json(exchange, 200, "{\"entries\":[]}"));

        Run.Result logs = karta.run("logs", "shop", "--since", "2026-06-01T00:00:00+02:00", "-n", "5",
                "--source", "build");

        assertThat(logs.exitCode()).as(logs.toString()).isZero();
        FakeKarta.Request request = fake.requests("GET", LOGS).get(0);
        assertThat(request.query()).isEqualTo("since=2026-06-01T00%3A00%3A00%2B02%3A00&limit=5&source=build");
        assertThat(request.header("Accept")).isEqualTo("application/json");
        assertThat(logs.stderr()).isEqualTo("No log entries of shop match.\n");
    }

    @Test
    void tail_retries_503_and_429_with_doubling_pauses_and_resumes_after_the_last_entry() {
        script(entriesThenEnd(1, 2), error(503, "unavailable", "restarting"), error(429, "rate_limited", "slow down"),
                entriesThenEnd(3), entriesThenHold(4));

        Run.Result result = stopWhen(karta.start("logs", "shop", "--tail", "--source", "build"), 4);

        assertThat(result.exitCode()).as(result.toString()).isZero();
        assertThat(result.stdout().lines().map(line -> line.substring(line.lastIndexOf("  ") + 2)))
                .containsExactly("line 1", "line 2", "line 3", "line 4");
        List<FakeKarta.Request> requests = fake.requests("GET", LOGS);
        assertThat(requests).hasSize(5);
        assertThat(requests).allMatch(r -> r.query().equals("source=build&tail=true")
                && r.header("Accept").equals("text/event-stream"));
        assertThat(requests).extracting(r -> r.header("Last-Event-ID")).containsExactly(null, "2", "2", "2", "3");
        assertThat(seconds(requestTimes.get(1) - requestTimes.get(0))).isGreaterThanOrEqualTo(0.45);
        assertThat(seconds(requestTimes.get(2) - requestTimes.get(1))).isGreaterThanOrEqualTo(0.95);
        assertThat(seconds(requestTimes.get(3) - requestTimes.get(2))).isGreaterThanOrEqualTo(1.95);
        // A connection that opened resets the pause to half a second (it would be 4 s otherwise).
        assertThat(seconds(requestTimes.get(4) - requestTimes.get(3))).isBetween(0.45, 3.0);
        assertThat(result.stderr()).isEqualTo("karta: log stream lost (the server closed the stream); reconnecting…\n"
                + "karta: reconnected, resuming after entry 2\n"
                + "karta: log stream lost (the server closed the stream); reconnecting…\n"
                + "karta: reconnected, resuming after entry 3\n");
    }

    @Test
    void tail_stops_with_exit_3_when_the_key_is_refused_after_a_drop() {
        script(entriesThenEnd(1), error(401, "unauthorized", "API key revoked"));

        Run.Result result = karta.start("logs", "shop", "--tail").await(Duration.ofSeconds(20));

        assertThat(result.exitCode()).as(result.toString()).isEqualTo(3);
        assertThat(result.stderr()).endsWith("karta: API key revoked\n");
        assertThat(fake.requests("GET", LOGS)).hasSize(2);
    }

    @Test
    void tail_stops_with_exit_3_at_an_error_event_without_reconnecting() {
        script((exchange, request) -> {
            OutputStream out = FakeKarta.sse(exchange);
            event(out, entry(1));
            event(out, "event: error\ndata: {\"error\":\"unauthorized\",\"message\":\"API key key_1 was revoked\"}\n\n");
        });

        Run.Result result = karta.start("logs", "shop", "--tail").await(Duration.ofSeconds(20));

        assertThat(result.exitCode()).as(result.toString()).isEqualTo(3);
        assertThat(result.stderr()).isEqualTo("karta: API key key_1 was revoked\n");
        assertThat(fake.requests("GET", LOGS)).hasSize(1);
    }

    @Test
    void tail_stops_with_exit_2_when_the_server_refuses_the_query_after_a_drop() {
        script(entriesThenEnd(1), error(400, "bad_request", "invalid source"));

        Run.Result result = karta.start("logs", "shop", "--tail").await(Duration.ofSeconds(20));

        assertThat(result.exitCode()).as(result.toString()).isEqualTo(2);
        assertThat(result.stderr()).endsWith("karta: invalid source\n");
    }

    @Test
    void a_first_connection_that_fails_ends_the_tail_at_once() {
        script(error(503, "unavailable", "starting up"));

        Run.Result result = karta.start("logs", "shop", "--tail").await(Duration.ofSeconds(20));

        assertThat(result.exitCode()).as(result.toString()).isEqualTo(1);
        assertThat(result.stderr()).isEqualTo("karta: starting up\n");
        assertThat(fake.requests("GET", LOGS)).hasSize(1);
    }

    @Test
    void an_empty_replay_resumes_after_entry_0_so_nothing_written_meanwhile_is_missed() {
        script(entriesThenEnd(), entriesThenHold(1));

        Run.Result result = stopWhen(karta.start("logs", "shop", "--tail", "-n", "10"), 1);

        assertThat(result.exitCode()).as(result.toString()).isZero();
        assertThat(fake.requests("GET", LOGS)).extracting(r -> r.header("Last-Event-ID")).containsExactly(null, "0");
    }

    @Test
    void an_empty_replay_from_since_asks_for_since_again() {
        script(entriesThenEnd(), entriesThenHold(1));

        Run.Result result = stopWhen(karta.start("logs", "shop", "--tail", "--since", "2h"), 1);

        assertThat(result.exitCode()).as(result.toString()).isZero();
        List<FakeKarta.Request> requests = fake.requests("GET", LOGS);
        assertThat(requests).extracting(r -> r.header("Last-Event-ID")).containsExactly(null, null);
        assertThat(requests).extracting(FakeKarta.Request::query).containsOnly("since=2h&tail=true");
    }
}
