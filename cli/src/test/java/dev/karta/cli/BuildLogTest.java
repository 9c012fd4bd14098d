package dev.karta.cli;

import static dev.karta.cli.FakeKarta.endEvent;
import static dev.karta.cli.FakeKarta.event;
import static dev.karta.cli.FakeKarta.logEvent;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.karta.api.Deploy;
import dev.karta.api.LogEntry;
import java.io.IOException;
import java.io.OutputStream;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

class BuildLogTest {
    private static final String LOGS = "/agent_projects/shop/deploys/dep_1/logs";
    private static final String DEPLOY = "/agent_projects/shop/deploys/dep_1";

    private final List<String> shown = new CopyOnWriteArrayList<>();
    private final List<String> notices = new CopyOnWriteArrayList<>();
    private final CountDownLatch testOver = new CountDownLatch(1);
    private FakeKarta fake;

    @BeforeEach
    void startFake() throws IOException {
        fake = new FakeKarta();
    }

    @AfterEach
    void stopFake() {
        testOver.countDown();
        fake.close();
    }

    private Deploy follow(int maxReconnects, Duration idleTimeout) {
        ApiClient api = new ApiClient(fake.url(), TestServer.ADMIN_KEY, "test");
        BuildLog log = new BuildLog(api, maxReconnects, Duration.ofMillis(10), Duration.ofMillis(10), idleTimeout,
                notices::add);
        return log.follow("shop", "dep_1", (LogEntry entry) -> shown.add(entry.message()));
    }

    @Test
    void follows_log_lines_until_the_end_event() {
        fake.on("GET", LOGS, (exchange, request) -> {
            OutputStream out = FakeKarta.sse(exchange);
            event(out, logEvent(1, "Detected harness claude"));
            event(out, ": ping\n\n");
            event(out, logEvent(2, "Built in 1.2s"));
            event(out, endEvent("succeeded", "v1", null));
        });

        Deploy finished = follow(3, Duration.ofSeconds(30));

        assertThat(shown).containsExactly("Detected harness claude", "Built in 1.2s");
        assertThat(finished.status()).isEqualTo("succeeded");
        assertThat(finished.release()).isEqualTo("v1");
        FakeKarta.Request request = fake.requests("GET", LOGS).get(0);
        assertThat(request.header("Accept")).isEqualTo("text/event-stream");
        assertThat(request.header("Authorization")).isEqualTo("Bearer " + TestServer.ADMIN_KEY);
        assertThat(request.header("Last-Event-ID")).isNull();
    }

    @Test
    void reconnects_with_last_event_id_after_a_drop_and_shows_each_line_once() {
        AtomicInteger connection = new AtomicInteger();
        fake.on("GET", LOGS, (exchange, request) -> {
            OutputStream out = FakeKarta.sse(exchange);
            if (connection.incrementAndGet() == 1) {
                event(out, logEvent(1, "one"));
                event(out, logEvent(2, "two"));
                return; // the stream drops before "end"
            }
            event(out, logEvent(2, "two")); // a server may replay the last one
            event(out, logEvent(3, "three"));
            event(out, endEvent("succeeded", "v2", null));
        });

        Deploy finished = follow(3, Duration.ofSeconds(30));

        assertThat(shown).containsExactly("one", "two", "three");
        assertThat(finished.release()).isEqualTo("v2");
        assertThat(fake.requests("GET", LOGS)).extracting(r -> r.header("Last-Event-ID"))
                .containsExactly(null, "2");
    }

    @Test
    void a_silent_stream_is_reopened_after_the_idle_timeout() {
        AtomicInteger connection = new AtomicInteger();
        fake.on("GET", LOGS, (exchange, request) -> {
            OutputStream out = FakeKarta.sse(exchange);
            if (connection.incrementAndGet() == 1) {
                event(out, logEvent(1, "one"));
                try {
                    testOver.await(10, TimeUnit.SECONDS); // holds the connection open, sending nothing
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
                return;
            }
            event(out, endEvent("succeeded", "v1", null));
        });

        Deploy finished = follow(3, Duration.ofMillis(500));

        assertThat(finished.status()).isEqualTo("succeeded");
        assertThat(fake.requests("GET", LOGS)).extracting(r -> r.header("Last-Event-ID")).containsExactly(null, "1");
    }

    @Test
    void falls_back_to_polling_when_the_stream_keeps_failing() {
        fake.on("GET", LOGS, (exchange, request) ->
                FakeKarta.json(exchange, 503, "{\"error\":\"unavailable\",\"message\":\"draining\"}"));
        AtomicInteger polls = new AtomicInteger();
        fake.on("GET", DEPLOY, (exchange, request) -> FakeKarta.json(exchange, 200, polls.incrementAndGet() < 3
                ? FakeKarta.deployJson("building", null, null)
                : FakeKarta.deployJson("failed", null, "karta.toml: unknown build kind")));

        Deploy finished = follow(2, Duration.ofSeconds(30));

        assertThat(finished.status()).isEqualTo("failed");
        assertThat(finished.error()).isEqualTo("karta.toml: unknown build kind");
        assertThat(fake.requests("GET", LOGS)).hasSize(3);
        assertThat(polls.get()).isEqualTo(3);
        assertThat(notices).singleElement().asString().contains("lost the build log stream");
    }

    @Test
    void a_missing_deploy_is_reported_not_retried() {
        fake.on("GET", LOGS, (exchange, request) ->
                FakeKarta.json(exchange, 404, "{\"error\":\"not_found\",\"message\":\"deploy 'dep_1' not found\"}"));

        assertThatThrownBy(() -> follow(3, Duration.ofSeconds(30)))
                .isInstanceOfSatisfying(CliError.class, e -> assertThat(e.exitCode()).isEqualTo(4))
                .hasMessage("deploy 'dep_1' not found");
        assertThat(fake.requests("GET", LOGS)).hasSize(1);
    }

    @Test
    void an_error_event_ends_the_build_log_with_that_error_and_no_reconnect() {
        fake.on("GET", LOGS, (exchange, request) -> {
            OutputStream out = FakeKarta.sse(exchange);
            event(out, logEvent(1, "one"));
            event(out, "event: error\ndata: {\"error\":\"unauthorized\",\"message\":\"API key key_1 was revoked\"}\n\n");
        });

        assertThatThrownBy(() -> follow(3, Duration.ofSeconds(30)))
                .isInstanceOfSatisfying(CliError.class, e -> assertThat(e.exitCode()).isEqualTo(3))
                .hasMessage("API key key_1 was revoked");
        assertThat(shown).containsExactly("one");
        assertThat(fake.requests("GET", LOGS)).hasSize(1);
    }
}
