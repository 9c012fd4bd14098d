package dev.karta.server.builds;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import dev.karta.server.Config;
import dev.karta.server.testkit.EachDatabase;
import dev.karta.server.testkit.ServerProcess;
import dev.karta.server.testkit.TarBuilder;
import dev.karta.server.testkit.TestDatabase;
import dev.karta.server.testkit.TestServer;
import java.io.IOException;
import java.net.http.HttpRequest;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.Parameter;
import org.junit.jupiter.params.ParameterizedClass;
import org.junit.jupiter.params.provider.ArgumentsSource;

@ParameterizedClass(name = "on {0}")
@ArgumentsSource(EachDatabase.class)
class BuildQueueTest {
    @Parameter
    TestDatabase database;
    private static final byte[] DOCKER_APP = new TarBuilder().file("Dockerfile", "FROM scratch\n")
            .file("CLAUDE.md", "# docker\n").build();

    @TempDir
    Path dataDir;

    private Config config(List<String> builder, Duration timeout, int keep) {
        return database.config(dataDir, TestServer.randomKey()).toBuilder().buildWorkers(1).buildTimeout(timeout)
                .builderCommand(builder).keepReleases(keep).buildLease(Duration.ofSeconds(2)).build();
    }

    private static TestServer.Response upload(TestServer server, String project, byte[] archive) {
        return server.send(server.request("/agent_projects/" + project + "/releases", server.adminKey())
                .header("Content-Type", "application/gzip").POST(HttpRequest.BodyPublishers.ofByteArray(archive)));
    }

    private static JsonNode deploy(TestServer server, String project, String id) {
        return server.get("/agent_projects/" + project + "/deploys/" + id, server.adminKey()).json();
    }

    private static JsonNode awaitStatus(TestServer server, String project, String id, String... statuses) {
        return awaitStatus(Duration.ofSeconds(30), server, project, id, statuses);
    }

    private static JsonNode awaitStatus(Duration patience, TestServer server, String project, String id,
            String... statuses) {
        JsonNode[] last = new JsonNode[1];
        await().atMost(patience).pollInterval(Duration.ofMillis(25)).until(() -> {
            last[0] = deploy(server, project, id);
            return List.of(statuses).contains(last[0].get("status").asText());
        });
        return last[0];
    }

    @Test
    void a_newer_deploy_supersedes_a_queued_one_and_builds_run_in_order() {
        try (TestServer server = TestServer.start(config(List.of("sleep", "1"), Duration.ofMinutes(1), 0))) {
            String building = upload(server, "shop", DOCKER_APP).json().get("id").asText();
            awaitStatus(server, "shop", building, "building");
            String older = upload(server, "shop", TarBuilder.app("older")).json().get("id").asText();
            String newer = upload(server, "shop", TarBuilder.app("newer")).json().get("id").asText();

            JsonNode superseded = awaitStatus(server, "shop", older, "superseded");
            awaitStatus(server, "shop", newer, "succeeded");
            awaitStatus(server, "shop", building, "succeeded");

            assertThat(superseded.get("error").asText()).contains(newer);
            assertThat(superseded.get("started_at").isNull()).isTrue();
            assertThat(deploy(server, "shop", building).get("release").asText()).isEqualTo("v1");
            assertThat(deploy(server, "shop", newer).get("release").asText()).isEqualTo("v2");
        }
    }

    @Test
    void a_configured_image_builder_runs_with_substitutions_and_its_failure_fails_the_build() {
        List<String> builder = List.of("sh", "-c", "echo building \"$0\" as \"$1\"; exit 3", "{image_ref}", "{kind}");
        try (TestServer server = TestServer.start(config(builder, Duration.ofMinutes(1), 0))) {
            String id = upload(server, "shop", DOCKER_APP).json().get("id").asText();
            JsonNode failed = awaitStatus(server, "shop", id, "failed");

            assertThat(failed.get("error").asText()).contains("exited with status 3")
                    .contains("karta.local/shop@sha256:").contains("as dockerfile");
            assertThat(server.get("/agent_projects/shop", server.adminKey()).json().get("current_release").isNull())
                    .isTrue();
        }
    }

    @Test
    void the_image_builder_gets_only_path_home_and_lang_never_the_servers_environment() {
        try (TestServer server = TestServer.start(config(List.of("env"), Duration.ofMinutes(1), 0))) {
            assertThat(server.server().config().bootstrapKey()).isNotNull();
            String id = upload(server, "shop", DOCKER_APP).json().get("id").asText();
            awaitStatus(server, "shop", id, "succeeded");
            String log = server.send(server.request("/agent_projects/shop/deploys/" + id + "/logs", server.adminKey())
                    .header("Accept", "text/event-stream").GET()).body();

            Matcher variables = Pattern.compile("builder: ([A-Za-z_][A-Za-z0-9_]*)=").matcher(log);
            Set<String> names = new TreeSet<>();
            while (variables.find()) {
                names.add(variables.group(1));
            }
            // The JVM's environment cannot be set from a test: the builder's is exactly the explicit map.
            assertThat(names).isNotEmpty()
                    .isEqualTo(new TreeSet<>(Config.SessionSettings.inheritedEnvironment(List.of()).keySet()));
            assertThat(names).allMatch(name -> List.of("PATH", "HOME", "LANG").contains(name));
        }
    }

    @Test
    void a_build_past_the_timeout_fails_and_its_builder_is_killed() throws IOException {
        Path marker = dataDir.resolve("builder-finished");
        List<String> builder = List.of("sh", "-c", "sleep 20; touch \"$0\"", marker.toString());
        try (TestServer server = TestServer.start(config(builder, Duration.ofSeconds(1), 0))) {
            String id = upload(server, "shop", DOCKER_APP).json().get("id").asText();
            JsonNode failed = awaitStatus(server, "shop", id, "failed");

            assertThat(failed.get("error").asText()).contains("timed out");
            await().atMost(Duration.ofSeconds(5)).until(() -> ProcessHandle.allProcesses()
                    .noneMatch(p -> p.info().arguments().map(a -> String.join(" ", a)).orElse("")
                            .contains(marker.toString())));
        }
        assertThat(marker).doesNotExist();
    }

    @Test
    void the_build_log_streams_over_sse_and_ends_with_the_finished_deploy() {
        try (TestServer server = database.start(dataDir)) {
            String id = upload(server, "shop", TarBuilder.app("one")).json().get("id").asText();
            String stream = server.send(server.request("/agent_projects/shop/deploys/" + id + "/logs", server.adminKey())
                    .header("Accept", "text/event-stream").GET()).body();

            assertThat(stream).contains("event: log").contains("Build started").contains("Detected harness claude")
                    .contains("Release v1 activated");
            assertThat(stream.indexOf("event: end")).isGreaterThan(stream.lastIndexOf("event: log"));
            assertThat(stream).contains("\"status\":\"succeeded\"");

            Matcher ids = Pattern.compile("(?m)^id: ?(\\d+)$").matcher(stream);
            assertThat(ids.find()).isTrue();
            String firstId = ids.group(1);
            String resumed = server.send(server.request("/agent_projects/shop/deploys/" + id + "/logs", server.adminKey())
                    .header("Accept", "text/event-stream").header("Last-Event-ID", firstId).GET()).body();
            assertThat(resumed).doesNotContain("id: " + firstId + "\n").contains("Build started");
        }
    }

    @Test
    void retention_prunes_old_trees_but_keeps_the_active_and_the_previous_release() {
        try (TestServer server = TestServer.start(config(List.of(), Duration.ofMinutes(1), 1))) {
            for (String marker : List.of("one", "two", "three")) {
                awaitStatus(server, "shop", upload(server, "shop", TarBuilder.app(marker)).json().get("id").asText(),
                        "succeeded");
            }
            JsonNode releases = server.get("/agent_projects/shop/releases", server.adminKey()).json().get("releases");
            Path trees = dataDir.resolve("trees");

            assertThat(trees.resolve(releases.get(0).get("content_digest").asText().substring(7))).isDirectory();
            assertThat(trees.resolve(releases.get(1).get("content_digest").asText().substring(7))).isDirectory();
            assertThat(trees.resolve(releases.get(2).get("content_digest").asText().substring(7))).doesNotExist();
            assertThat(releases).hasSize(3);
            TestServer.Response toPruned = server.post("/agent_projects/shop/rollback", server.adminKey(), "{\"to\":\"v1\"}");
            assertThat(toPruned.status()).isEqualTo(409);
            assertThat(toPruned.json().get("message").asText()).contains("pruned");
            assertThat(server.post("/agent_projects/shop/rollback", server.adminKey(), "{\"to\":\"v2\"}").status())
                    .isEqualTo(200);
        }
    }

    /**
     * A real server process, killed with SIGKILL while a build runs, then started again on the
     * same data: the interrupted deploy is retried, exactly one release exists, nothing is stuck.
     */
    @Test
    void a_server_killed_mid_build_recovers_on_restart_without_half_made_releases() throws Exception {
        String key = TestServer.randomKey();
        ProcessBuilder starting = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-cp", System.getProperty("java.class.path"), "dev.karta.server.Main",
                "--port", "0", "--data-dir", dataDir.toString(), "--bootstrap-key", key, "--builder", "sleep 60")
                .redirectErrorStream(true);
        if (database.isPostgres()) {
            starting.command().addAll(List.of("--database", database.url(dataDir)));
        }
        Process child = starting.start();
        try {
            int port = ServerProcess.awaitListening(child);
            String id;
            try (TestServer view = TestServer.attach(port, key)) {
                id = upload(view, "shop", DOCKER_APP).json().get("id").asText();
                awaitStatus(view, "shop", id, "building");
            }
            // The server first: killing its builder first would let it record the build as failed.
            List<ProcessHandle> builders = child.descendants().toList();
            child.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
            builders.forEach(ProcessHandle::destroyForcibly);

            Config d = database.config(dataDir, key);
            try (TestServer restarted = TestServer.start(d)) {
                // PostgreSQL may be shared by other servers: the dead server's build is taken as
                // interrupted only once its lease (30 s by default) has run out.
                Duration patience = Duration.ofSeconds(database.isPostgres() ? 90 : 30);
                JsonNode done = awaitStatus(patience, restarted, "shop", id, "succeeded", "failed");

                assertThat(done.get("status").asText()).as(done.toString()).isEqualTo("succeeded");
                assertThat(done.get("release").asText()).isEqualTo("v1");
                JsonNode releases = restarted.get("/agent_projects/shop/releases", key).json().get("releases");
                assertThat(releases).hasSize(1);
                String log = restarted.send(restarted.request("/agent_projects/shop/deploys/" + id + "/logs", key)
                        .header("Accept", "text/event-stream").GET()).body();
                assertThat(log).contains("queued again").contains("attempt 2");
                assertThat(Files.list(dataDir.resolve("trees")).map(p -> p.getFileName().toString()))
                        .doesNotContain(".staging");
            }
        } finally {
            child.descendants().forEach(ProcessHandle::destroyForcibly);
            child.destroyForcibly();
        }
    }
}
