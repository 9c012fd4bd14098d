package dev.karta.server.dbstorage;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.karta.server.build.ReleaseFiles;
import dev.karta.server.store.Database;
import dev.karta.server.testkit.ManualClock;
import dev.karta.server.testkit.TarBuilder;
import dev.karta.server.testkit.TestServer;
import java.lang.reflect.Proxy;
import java.net.http.HttpRequest;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * What a starting replica's warm-up fetches (each active release's tree once, not older
 * releases) and how it holds readiness back: with its progress until done, and no longer than
 * its limit even while a fetch is still running.
 */
class CacheWarmUpTest {
    private static final Duration LIMIT = Duration.ofSeconds(30);

    @TempDir
    Path dataDir;

    /** Release files whose check-outs are recorded and wait for {@code go}. */
    private static ReleaseFiles files(List<String> checkedOut, CountDownLatch go) {
        return (ReleaseFiles) Proxy.newProxyInstance(ReleaseFiles.class.getClassLoader(),
                new Class<?>[] {ReleaseFiles.class}, (proxy, method, args) -> {
                    if (!method.getName().equals("checkOut")) {
                        throw new UnsupportedOperationException(method.getName());
                    }
                    checkedOut.add((String) args[0]);
                    go.await();
                    return Optional.empty();
                });
    }

    private static void publish(TestServer server, String project, String text) {
        TestServer.Response accepted = server.send(server.request("/agent_projects/" + project + "/releases",
                        server.adminKey()).header("Content-Type", "application/gzip")
                .POST(HttpRequest.BodyPublishers.ofByteArray(TarBuilder.files(Map.of("CLAUDE.md", text)))));
        assertThat(accepted.status()).as(accepted.body()).isEqualTo(202);
        String deploy = accepted.json().get("id").asText();
        await().atMost(Duration.ofSeconds(30)).until(() -> server.get("/agent_projects/" + project + "/deploys/"
                + deploy, server.adminKey()).json().get("status").asText().equals("succeeded"));
    }

    @Test
    void the_active_trees_are_fetched_once_each_and_readiness_waits_no_longer_than_the_limit() {
        Database db;
        try (TestServer server = TestServer.start(dataDir)) {
            publish(server, "one", "# v1 of one");
            publish(server, "one", "# v2 of one");
            publish(server, "two", "# v2 of one"); // the same tree as one's active release
            publish(server, "three", "# v1 of three");
            db = server.openDatabase();
        }
        List<String> expected = db.withHandle(h -> h.createQuery("SELECT r.content_digest FROM projects p "
                + "JOIN releases r ON r.id = p.current_release_id WHERE p.name IN ('one', 'three')")
                .mapTo(String.class).list());
        List<String> checkedOut = new CopyOnWriteArrayList<>();
        CountDownLatch go = new CountDownLatch(1);
        ManualClock clock = new ManualClock();
        try (db; CacheWarmUp warmUp = new CacheWarmUp(db, files(checkedOut, go), LIMIT, clock)) {
            assertThat(warmUp.pending()).as("not ready before it starts").contains("fetching");
            warmUp.start();
            await().atMost(Duration.ofSeconds(10)).until(() -> checkedOut.size() == 1);
            assertThat(warmUp.pending()).isEqualTo(
                    "fetching the active releases' files into this replica's cache; ready within 30 s");

            clock.advance(LIMIT);
            assertThat(warmUp.pending()).as("ready at the limit, the fetch still running").isNull();

            go.countDown();
            await().atMost(Duration.ofSeconds(10)).until(() -> checkedOut.size() == 2);
            assertThat(checkedOut).containsExactlyInAnyOrderElementsOf(expected);
        }
    }

    @Test
    void with_no_time_allowed_there_is_no_warm_up() {
        try (TestServer server = TestServer.start(dataDir); Database db = server.openDatabase()) {
            List<String> checkedOut = new CopyOnWriteArrayList<>();
            try (CacheWarmUp warmUp = new CacheWarmUp(db, files(checkedOut, new CountDownLatch(0)), Duration.ZERO,
                    new ManualClock())) {
                warmUp.start();
                assertThat(warmUp.pending()).isNull();
                assertThat(checkedOut).isEmpty();
            }
        }
    }
}
