package dev.karta.server.builds;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import dev.karta.server.Config;
import dev.karta.server.testkit.TarBuilder;
import dev.karta.server.testkit.TestServer;
import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.http.HttpRequest;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * One tenant cannot freeze the build workers: a build stuck where interrupts do not reach ends at
 * the build timeout and frees its worker, and no org holds more than its share of the workers
 * while another org waits.
 */
class BuildSchedulingTest {
    private static final byte[] DOCKER_APP = new TarBuilder().file("Dockerfile", "FROM scratch\n")
            .file("CLAUDE.md", "# docker\n").build();
    private static final Duration LONG = Duration.ofMinutes(10);

    @TempDir
    Path dir;

    private static TestServer.Response upload(TestServer server, String key, String project, byte[] archive) {
        TestServer.Response accepted = server.send(server.request("/agent_projects/" + project + "/releases", key)
                .header("Content-Type", "application/gzip").POST(HttpRequest.BodyPublishers.ofByteArray(archive)));
        assertThat(accepted.status()).as(accepted.body()).isEqualTo(202);
        return accepted;
    }

    private static String status(TestServer server, String key, String project, String id) {
        return deploy(server, key, project, id).get("status").asText();
    }

    private static JsonNode deploy(TestServer server, String key, String project, String id) {
        return server.get("/agent_projects/" + project + "/deploys/" + id, key).json();
    }

    /** A git host that accepts connections and never answers: a fetch from it blocks in a socket read. */
    private static final class SilentHost implements AutoCloseable {
        final ServerSocket socket;
        final List<Socket> accepted = new CopyOnWriteArrayList<>();

        SilentHost() throws IOException {
            socket = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
            Thread acceptor = new Thread(() -> {
                try {
                    while (true) {
                        accepted.add(socket.accept());
                    }
                } catch (IOException e) {
                    // closed
                }
            }, "silent-host");
            acceptor.setDaemon(true);
            acceptor.start();
        }

        String url() {
            return "http://127.0.0.1:" + socket.getLocalPort() + "/";
        }

        @Override
        public void close() throws IOException {
            socket.close();
            for (Socket s : accepted) {
                s.close();
            }
        }
    }

    @Test
    void a_build_stuck_in_a_socket_read_fails_at_the_timeout_and_frees_its_worker() throws IOException {
        try (SilentHost host = new SilentHost()) {
            Config.Repos repos = Config.Repos.DEFAULTS.withAllowed(Set.of(), List.of(host.url()))
                    .withTimeouts(LONG, LONG, LONG, LONG);
            Config config = TestServer.config(dir, TestServer.randomKey()).withRepos(repos)
                    .withBuildTimeout(Duration.ofSeconds(2)).withBuildWorkers(1);
            try (TestServer server = TestServer.start(config)) {
                String key = server.adminKey();
                assertThat(server.post("/agent_projects", key, "{\"name\":\"stuck\"}").status()).isEqualTo(201);
                TestServer.Response bound = server.send(server.request("/agent_projects/stuck/repo", key)
                        .header("Content-Type", "application/json")
                        .PUT(HttpRequest.BodyPublishers.ofString("{\"url\":\"" + host.url() + "app.git\"}")));
                assertThat(bound.status()).as(bound.body()).isEqualTo(200);
                TestServer.Response accepted = server.post("/agent_projects/stuck/deploys", key,
                        "{\"commit_sha\":\"" + "a".repeat(40) + "\"}");
                assertThat(accepted.status()).as(accepted.body()).isEqualTo(202);
                String stuck = accepted.json().get("deploy_id").asText();
                await().atMost(Duration.ofSeconds(10)).until(() -> !host.accepted.isEmpty());

                await().atMost(Duration.ofSeconds(15)).until(() -> status(server, key, "stuck", stuck).equals("failed"));
                assertThat(deploy(server, key, "stuck", stuck).get("error").asText())
                        .isEqualTo("build timed out after 2s");

                String next = upload(server, key, "next", TarBuilder.app("next")).json().get("id").asText();
                await().atMost(Duration.ofSeconds(15)).until(() -> status(server, key, "next", next).equals("succeeded"));

                host.close(); // the stuck fetch now ends with an error: it must not touch the failed deploy
                await().during(Duration.ofSeconds(1)).atMost(Duration.ofSeconds(3))
                        .until(() -> status(server, key, "stuck", stuck).equals("failed"));
                assertThat(server.get("/agent_projects/stuck", key).json().get("current_release").isNull()).isTrue();
            }
        }
    }

    @Test
    void one_org_cannot_hold_every_build_worker_while_another_org_waits() throws IOException {
        Path go = dir.resolve("go");
        List<String> slowBuilder = List.of("sh", "-c", "while [ ! -e \"$0\" ]; do sleep 0.05; done", go.toString());
        Config config = TestServer.config(dir.resolve("data"), TestServer.randomKey()).toBuilder().buildWorkers(2)
                .buildTimeout(Duration.ofMinutes(5)).builderCommand(slowBuilder).keepReleases(0)
                .buildLease(Duration.ofSeconds(2)).build();
        assertThat(config.limits().buildsPerOrg(2)).as("default: half the workers").isEqualTo(1);
        try (TestServer server = TestServer.start(config)) {
            String orgA = server.adminKey();
            String orgB = server.createOrg("org-b");
            String a1 = upload(server, orgA, "a-one", DOCKER_APP).json().get("id").asText();
            String a2 = upload(server, orgA, "a-two", DOCKER_APP).json().get("id").asText();
            await().atMost(Duration.ofSeconds(15)).until(() -> status(server, orgA, "a-one", a1).equals("building"));

            String b = upload(server, orgB, "b-one", TarBuilder.app("b")).json().get("id").asText();

            await().atMost(Duration.ofSeconds(15)).until(() -> status(server, orgB, "b-one", b).equals("succeeded"));
            assertThat(status(server, orgA, "a-one", a1)).isEqualTo("building");
            assertThat(status(server, orgA, "a-two", a2)).as("org A runs at most its share").isEqualTo("queued");

            Files.writeString(go, "go");
            await().atMost(Duration.ofSeconds(30)).until(() -> status(server, orgA, "a-one", a1).equals("succeeded")
                    && status(server, orgA, "a-two", a2).equals("succeeded"));
        }
    }

    @Test
    void a_timeout_that_fires_as_a_build_ends_neither_fails_the_next_build_nor_adds_a_worker() {
        Config config = TestServer.config(dir, TestServer.randomKey()).withBuildWorkers(1);
        try (TestServer server = TestServer.start(config)) {
            String key = server.adminKey();
            BuildWorkers workers = server.server().workers();
            java.util.concurrent.atomic.AtomicReference<String> next = new java.util.concurrent.atomic.AtomicReference<>();
            workers.afterBuild = (deployId, timeOut) -> {
                if (next.get() == null) {
                    // The next build is queued before this worker looks for one, and the deadline
                    // of the build that just ended passes right now.
                    next.set(upload(server, key, "second", TarBuilder.app("second")).json().get("id").asText());
                    timeOut.run();
                }
            };
            String first = upload(server, key, "first", TarBuilder.app("first")).json().get("id").asText();

            await().atMost(Duration.ofSeconds(15)).until(() -> next.get() != null
                    && !status(server, key, "second", next.get()).matches("queued|building"));
            assertThat(status(server, key, "first", first)).isEqualTo("succeeded");
            assertThat(deploy(server, key, "second", next.get()).toString()).contains("\"status\":\"succeeded\"");
            assertThat(workers.workerCount()).as("the pool keeps its size").isEqualTo(1);
        }
    }
}
