package dev.karta.server.logs;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.karta.server.KartaServer;
import dev.karta.server.store.Database;
import dev.karta.server.testkit.PostgresDatabase;
import dev.karta.server.testkit.PostgresExtension;
import dev.karta.server.testkit.TestServer;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

/**
 * Log order on PostgreSQL, where sequence values may commit out of order: an append waits for a
 * still-open append of the same project (the log_heads row lock), so a follower never sees a
 * later id before an earlier one commits; and a tail on one server follows writes of another.
 */
@ExtendWith(PostgresExtension.class)
class LogPostgresTest {
    @TempDir
    Path dir;

    private static KartaServer start(Path dataDir, String url, String key) {
        return TestServer.start(TestServer.config(dataDir, key).toBuilder().databaseUrl(url).build()).server();
    }

    private static String projectId(Database db, String name) {
        return db.withHandle(h -> h.createQuery("SELECT id FROM projects WHERE name = :n").bind("n", name)
                .mapTo(String.class).one());
    }

    @Test
    void an_append_waits_for_an_open_append_of_the_same_project_so_ids_commit_in_order(PostgresDatabase postgres)
            throws Exception {
        String url = postgres.url();
        String key = "kt_live_" + UUID.randomUUID().toString().replace("-", "");
        try (KartaServer server = start(dir.resolve("a"), url, key); Database db = Database.open(url)) {
            LogsHarness.send(java.net.http.HttpRequest.newBuilder(
                            java.net.URI.create("http://127.0.0.1:" + server.port() + "/agent_projects"))
                    .header("Authorization", "Bearer " + key).header("Content-Type", "application/json")
                    .POST(java.net.http.HttpRequest.BodyPublishers.ofString("{\"name\":\"ordered\"}")));
            String project = projectId(db, "ordered");
            LogStore logs = server.logs();
            try (SseTestClient tail = SseTestClient.open(server.port(), "/agent_projects/ordered/logs?tail=true",
                    key)) {
                await().until(() -> tail.logEvents().size() == 1);
                CountDownLatch firstInserted = new CountDownLatch(1);
                CountDownLatch commitFirst = new CountDownLatch(1);
                Thread slow = new Thread(() -> db.inTransaction(h -> {
                    logs.append(h, project, LogSource.BUILD, null, null, "first, committed late");
                    firstInserted.countDown();
                    try {
                        commitFirst.await();
                    } catch (InterruptedException e) {
                        throw new IllegalStateException(e);
                    }
                    return null;
                }));
                slow.start();
                firstInserted.await();
                AtomicBoolean secondDone = new AtomicBoolean();
                Thread fast = new Thread(() -> {
                    logs.append(project, LogSource.BUILD, null, null, "second");
                    secondDone.set(true);
                });
                fast.start();

                await().during(Duration.ofMillis(500)).atMost(Duration.ofSeconds(2)).until(() -> !secondDone.get());
                commitFirst.countDown();
                slow.join();
                fast.join();

                await().until(() -> tail.logEvents().size() == 3);
                assertThat(tail.messages()).endsWith("first, committed late", "second");
                assertThat(tail.ids()).isSorted();
            }
        }
    }

    @Test
    void a_tail_on_one_server_follows_entries_written_on_another(PostgresDatabase postgres) throws Exception {
        String url = postgres.url();
        String key = "kt_live_" + UUID.randomUUID().toString().replace("-", "");
        try (KartaServer a = start(dir.resolve("a"), url, key); KartaServer b = start(dir.resolve("b"), url, key);
             Database db = Database.open(url)) {
            LogsHarness.send(java.net.http.HttpRequest.newBuilder(
                            java.net.URI.create("http://127.0.0.1:" + a.port() + "/agent_projects"))
                    .header("Authorization", "Bearer " + key).header("Content-Type", "application/json")
                    .POST(java.net.http.HttpRequest.BodyPublishers.ofString("{\"name\":\"replicas\"}")));
            String project = projectId(db, "replicas");
            try (SseTestClient tail = SseTestClient.open(a.port(), "/agent_projects/replicas/logs?tail=true", key)) {
                await().until(() -> tail.logEvents().size() == 1);
                for (int i = 0; i < 5; i++) {
                    b.logs().append(project, LogSource.BUILD, null, null, "from b " + i);
                }

                await().atMost(Duration.ofSeconds(5)).until(() -> tail.logEvents().size() == 6);
                assertThat(tail.messages()).endsWith("from b 0", "from b 1", "from b 2", "from b 3", "from b 4");
                List<Long> ids = tail.ids();
                assertThat(ids).isSorted().doesNotHaveDuplicates();
            }
        }
    }
}
