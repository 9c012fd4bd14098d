package dev.karta.server.logs;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.karta.server.KartaServer;
import dev.karta.server.store.Database;
import dev.karta.server.testkit.PostgresDatabase;
import dev.karta.server.testkit.PostgresExtension;
import dev.karta.server.testkit.TestServer;
import java.net.URI;
import java.net.http.HttpRequest;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.locks.LockSupport;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

/**
 * Log lines cross replicas by PostgreSQL's LISTEN/NOTIFY: a tail on one server is woken by an
 * append on another at its commit, instead of at the next one-second poll. The latencies are
 * printed (the target, 250 ms at p99, belongs to the benchmark); the assertions are generous.
 */
@ExtendWith(PostgresExtension.class)
class CrossServerLogTest {
    private static final int LINES = 200;

    @TempDir
    Path dir;

    private static KartaServer start(Path dataDir, String url, String key) {
        return TestServer.start(TestServer.config(dataDir, key).toBuilder().databaseUrl(url).build()).server();
    }

    private static void createProject(KartaServer server, String key, String name) {
        LogsHarness.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + server.port() + "/agent_projects"))
                .header("Authorization", "Bearer " + key).header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString("{\"name\":\"" + name + "\"}")));
    }

    private static String projectId(Database db, String name) {
        return db.withHandle(h -> h.createQuery("SELECT id FROM projects WHERE name = :n").bind("n", name)
                .mapTo(String.class).one());
    }

    @Test
    void a_tail_on_one_server_gets_lines_appended_on_another_when_they_commit(PostgresDatabase postgres) {
        String key = TestServer.randomKey();
        try (KartaServer writer = start(dir.resolve("a"), postgres.url(), key);
             KartaServer reader = start(dir.resolve("b"), postgres.url(), key);
             Database db = Database.open(postgres.url())) {
            createProject(writer, key, "replicated");
            String project = projectId(db, "replicated");
            await().until(() -> reader.logWakeups().listening() && writer.logWakeups().listening());
            try (SseTestClient tail = SseTestClient.open(reader.port(), "/agent_projects/replicated/logs?tail=true",
                    key)) {
                await().until(() -> tail.logEvents().size() == 1);
                long wokenBefore = reader.logWakeups().woken();
                List<Long> latencies = new ArrayList<>();
                for (int i = 0; i < LINES; i++) {
                    // Spread over the poll period, so a poll could not pass for a wake-up.
                    LockSupport.parkNanos(Duration.ofMillis(ThreadLocalRandom.current().nextInt(5, 30)).toNanos());
                    long before = System.nanoTime();
                    writer.logs().append(project, LogSource.BUILD, null, null, "line " + i);
                    int expected = i + 2;
                    await().atMost(Duration.ofSeconds(5)).pollInterval(Duration.ofMillis(1))
                            .until(() -> tail.logEvents().size() >= expected);
                    String id = tail.logEvents().get(expected - 1).id();
                    latencies.add(tail.arrivals.get(id) - before);
                }
                Collections.sort(latencies);
                long p50 = latencies.get(LINES / 2) / 1_000;
                long p99 = latencies.get(LINES * 99 / 100 - 1) / 1_000;
                long max = latencies.get(LINES - 1) / 1_000;
                System.out.printf("cross-server log delivery over %d lines: p50 %.1f ms, p99 %.1f ms, max %.1f ms%n",
                        LINES, p50 / 1000.0, p99 / 1000.0, max / 1000.0);

                assertThat(tail.messages()).endsWith("line " + (LINES - 2), "line " + (LINES - 1));
                assertThat(tail.ids()).isSorted().doesNotHaveDuplicates();
                assertThat(reader.logWakeups().woken() - wokenBefore).isGreaterThanOrEqualTo(LINES);
                assertThat(p99).isLessThan(1_000_000);
            }
        }
    }

    @Test
    void a_server_skips_the_notifications_of_its_own_appends(PostgresDatabase postgres) {
        String key = TestServer.randomKey();
        try (KartaServer only = start(dir.resolve("a"), postgres.url(), key);
             Database db = Database.open(postgres.url())) {
            createProject(only, key, "alone");
            String project = projectId(db, "alone");
            await().until(() -> only.logWakeups().listening());
            try (SseTestClient tail = SseTestClient.open(only.port(), "/agent_projects/alone/logs?tail=true", key)) {
                await().until(() -> tail.logEvents().size() == 1);
                for (int i = 0; i < 5; i++) {
                    only.logs().append(project, LogSource.BUILD, null, null, "own " + i);
                }
                await().until(() -> tail.logEvents().size() == 6);
                assertThat(only.logWakeups().woken()).isZero();
            }
        }
    }

    @Test
    void deleting_a_project_on_one_server_ends_its_tails_on_another(PostgresDatabase postgres) {
        String key = TestServer.randomKey();
        try (KartaServer deleting = start(dir.resolve("a"), postgres.url(), key);
             KartaServer following = start(dir.resolve("b"), postgres.url(), key)) {
            createProject(deleting, key, "doomed");
            await().until(() -> following.logWakeups().listening());
            try (SseTestClient tail = SseTestClient.open(following.port(), "/agent_projects/doomed/logs?tail=true",
                    key)) {
                await().until(() -> tail.logEvents().size() == 1);

                LogsHarness.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + deleting.port()
                                + "/agent_projects/doomed")).header("Authorization", "Bearer " + key).DELETE());

                await().atMost(Duration.ofSeconds(5)).until(tail.ended::get);
            }
        }
    }
}
