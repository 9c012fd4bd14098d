package dev.karta.server.builds;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import dev.karta.server.testkit.PostgresDatabase;
import dev.karta.server.testkit.PostgresExtension;
import dev.karta.server.testkit.ServerProcess;
import dev.karta.server.testkit.TarBuilder;
import dev.karta.server.testkit.TestServer;
import java.net.http.HttpRequest;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

/**
 * Two replicas on one PostgreSQL. The replica building a deploy is killed with SIGKILL (no
 * cleanup at all); the other one, which left the build alone while its lease was being renewed,
 * takes it over once the lease runs out and finishes it: nothing stays building, and the
 * versions run v1, v2, v3 with none skipped or doubled.
 */
@ExtendWith(PostgresExtension.class)
class BuildTakeoverTest {
    private static final Duration LEASE = Duration.ofSeconds(2);
    private static final byte[] DOCKER_APP = new TarBuilder().file("Dockerfile", "FROM scratch\n")
            .file("CLAUDE.md", "# docker\n").build();

    @TempDir
    Path dir;

    private static TestServer.Response upload(TestServer server, String project, byte[] archive) {
        return server.send(server.request("/agent_projects/" + project + "/releases", server.adminKey())
                .header("Content-Type", "application/gzip").POST(HttpRequest.BodyPublishers.ofByteArray(archive)));
    }

    private static JsonNode deploy(TestServer server, String project, String id) {
        return server.get("/agent_projects/" + project + "/deploys/" + id, server.adminKey()).json();
    }

    private static JsonNode awaitStatus(TestServer server, String project, String id, String... statuses) {
        JsonNode[] last = new JsonNode[1];
        await().atMost(Duration.ofSeconds(60)).pollInterval(Duration.ofMillis(50)).until(() -> {
            last[0] = deploy(server, project, id);
            return List.of(statuses).contains(last[0].get("status").asText());
        });
        return last[0];
    }

    @Test
    void a_replica_killed_mid_build_leaves_it_to_another_that_finishes_it_once_the_lease_runs_out(
            PostgresDatabase postgres) throws Exception {
        String key = TestServer.randomKey();
        // Release files live in the data dir until they live in the database: both replicas share it.
        Path data = dir.resolve("data");
        // The first build to run the builder hangs (on the replica that will die); later ones pass.
        String builder = "[\"sh\",\"-c\",\"if mkdir \\\"$0\\\" 2>/dev/null; then sleep 60; fi\",\""
                + dir.resolve("first-build") + "\"]";
        ProcessBuilder starting = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-cp", System.getProperty("java.class.path"), "dev.karta.server.Main",
                "--port", "0", "--data-dir", data.toString(), "--database", postgres.url(), "--bootstrap-key", key,
                "--build-lease", LEASE.toSeconds() + "s", "--builder", builder)
                .redirectErrorStream(true);
        Process doomed = starting.start();
        List<ProcessHandle> builders = new ArrayList<>();
        try {
            int port = ServerProcess.awaitListening(doomed);
            String hanging;
            try (TestServer first = TestServer.attach(port, key)) {
                String v1 = upload(first, "shop", TarBuilder.app("one")).json().get("id").asText();
                assertThat(awaitStatus(first, "shop", v1, "succeeded").get("release").asText()).isEqualTo("v1");
                hanging = upload(first, "shop", DOCKER_APP).json().get("id").asText();
                awaitStatus(first, "shop", hanging, "building");
            }

            try (TestServer survivor = TestServer.start(TestServer.config(data, key).toBuilder()
                    .databaseUrl(postgres.url()).buildLease(LEASE)
                    .builderCommand(List.of("sh", "-c", "if mkdir \"$0\" 2>/dev/null; then sleep 60; fi",
                            dir.resolve("first-build").toString())).build())) {
                // While the first replica lives and renews its lease, the build stays its own.
                await().during(LEASE.multipliedBy(3)).atMost(LEASE.multipliedBy(4))
                        .until(() -> deploy(survivor, "shop", hanging).get("status").asText().equals("building"));

                builders.addAll(doomed.descendants().toList());
                doomed.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
                builders.forEach(ProcessHandle::destroyForcibly);

                JsonNode done = awaitStatus(survivor, "shop", hanging, "succeeded", "failed");
                assertThat(done.get("status").asText()).as(done.toString()).isEqualTo("succeeded");
                assertThat(done.get("release").asText()).isEqualTo("v2");
                String log = survivor.send(survivor.request("/agent_projects/shop/deploys/" + hanging + "/logs", key)
                        .header("Accept", "text/event-stream").GET()).body();
                assertThat(log).containsOnlyOnce("queued again").contains("attempt 2");

                String v3 = upload(survivor, "shop", TarBuilder.app("three")).json().get("id").asText();
                assertThat(awaitStatus(survivor, "shop", v3, "succeeded").get("release").asText()).isEqualTo("v3");
                JsonNode releases = survivor.get("/agent_projects/shop/releases", key).json().get("releases");
                List<String> versions = new ArrayList<>();
                releases.forEach(r -> versions.add(r.get("version").asText()));
                assertThat(versions).containsExactly("v3", "v2", "v1");
                JsonNode deploys = survivor.get("/agent_projects/shop/deploys", key).json().get("deploys");
                deploys.forEach(d -> assertThat(d.get("status").asText()).as(d.toString()).isEqualTo("succeeded"));
            }
        } finally {
            doomed.descendants().forEach(ProcessHandle::destroyForcibly);
            builders.forEach(ProcessHandle::destroyForcibly);
            doomed.destroyForcibly();
        }
    }

    /**
     * A replica that lost its lease (it could not renew in time, and another replica claimed the
     * deploy again: attempt 2) and then sees its own build end must change nothing: the deploy
     * belongs to attempt 2. Here the other replica's claim is made in the database directly, and
     * nobody runs attempt 2, so its lease runs out too and the deploy fails as interrupted twice.
     */
    @Test
    void a_replica_that_lost_the_lease_cannot_end_the_deploy_another_one_took_over(PostgresDatabase postgres)
            throws Exception {
        Path release = dir.resolve("release-builder");
        List<String> builder = List.of("sh", "-c", "while [ ! -e \"$0\" ]; do sleep 0.1; done; exit 3",
                release.toString());
        try (TestServer server = TestServer.start(TestServer.config(dir.resolve("data"), TestServer.randomKey())
                .toBuilder().databaseUrl(postgres.url()).buildLease(LEASE).builderCommand(builder).build());
             dev.karta.server.store.Database db = server.openDatabase()) {
            String id = upload(server, "shop", DOCKER_APP).json().get("id").asText();
            awaitStatus(server, "shop", id, "building");

            // Another replica's claim after this one's lease ran out: attempt 2, a fresh lease.
            assertThat(db.execute("UPDATE deploys SET attempts = attempts + 1, lease_until = ? WHERE id = ? "
                    + "AND status = 'building'", System.currentTimeMillis() + LEASE.toMillis(), id)).isEqualTo(1);
            java.nio.file.Files.createFile(release); // attempt 1's builder now fails (exit 3) on this replica

            JsonNode done = awaitStatus(server, "shop", id, "failed", "succeeded");
            assertThat(done.get("error").asText()).as(done.toString()).contains("interrupted 2 times")
                    .doesNotContain("status 3");
            assertThat(server.get("/agent_projects/shop", server.adminKey()).json().get("current_release").isNull())
                    .isTrue();
        }
    }

    /**
     * The replica that lost the lease also stops its build (its builder is killed) instead of
     * running it to the end for nothing, and frees the worker.
     */
    @Test
    void a_replica_that_lost_the_lease_gives_its_build_up(PostgresDatabase postgres) {
        Path never = dir.resolve("never-created");
        List<String> builder = List.of("sh", "-c", "while [ ! -e \"$0\" ]; do sleep 0.1; done", never.toString());
        try (TestServer server = TestServer.start(TestServer.config(dir.resolve("data"), TestServer.randomKey())
                .toBuilder().databaseUrl(postgres.url()).buildLease(LEASE).builderCommand(builder).build());
             dev.karta.server.store.Database db = server.openDatabase()) {
            String id = upload(server, "shop", DOCKER_APP).json().get("id").asText();
            awaitStatus(server, "shop", id, "building");
            await().until(() -> builderRunning(never));

            assertThat(db.execute("UPDATE deploys SET attempts = attempts + 1, lease_until = ? WHERE id = ? "
                    + "AND status = 'building'", System.currentTimeMillis() + LEASE.toMillis(), id)).isEqualTo(1);

            await().atMost(Duration.ofSeconds(10)).until(() -> !builderRunning(never));
            JsonNode done = awaitStatus(server, "shop", id, "failed", "succeeded");
            assertThat(done.get("error").asText()).as(done.toString()).contains("interrupted 2 times");
            String next = upload(server, "shop", TarBuilder.app("next")).json().get("id").asText();
            assertThat(awaitStatus(server, "shop", next, "succeeded", "failed").get("status").asText())
                    .isEqualTo("succeeded");
        }
    }

    private static boolean builderRunning(Path marker) {
        return ProcessHandle.allProcesses().anyMatch(p -> p.info().arguments()
                .map(a -> String.join(" ", a)).orElse("").contains(marker.toString()));
    }
}
