package dev.karta.server.sessions;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import dev.karta.server.process.LiveProcesses;
import dev.karta.server.testkit.ServerProcess;
import dev.karta.server.testkit.TarBuilder;
import dev.karta.server.testkit.TestServer.Response;
import dev.karta.server.testkit.TestServer;
import java.io.IOException;
import java.net.http.HttpRequest;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Nothing a harness starts outlives its turn or the server: children that detach themselves
 * ({@code setsid}, {@code nohup}) are killed when the turn ends, and when the server is killed
 * with SIGKILL. Children are found by markers in their argv.
 */
class HarnessContainmentTest {
    private static final String INIT = "{\"type\":\"system\",\"subtype\":\"init\",\"session_id\":\"s1\"}";
    private static final String ANSWER = "{\"type\":\"assistant\",\"message\":{\"content\":[{\"type\":\"text\",\"text\":\"done\"}]}}";
    private static final String RESULT = "{\"type\":\"result\",\"subtype\":\"success\",\"is_error\":false,\"result\":\"done\",\"session_id\":\"s1\"}";

    @TempDir
    Path dir;

    private String sleeper(String name) {
        return "/usr/bin/python3 -S -c 'import time; time.sleep(300)' " + dir.resolve(name);
    }

    private String marker(String name) {
        return dir.resolve(name).toString();
    }

    @AfterEach
    void killLeftovers() {
        String mark = dir.toString();
        ProcessHandle.allProcesses().filter(p -> p.info().arguments().map(Arrays::asList).orElse(List.of()).stream()
                .anyMatch(a -> a.contains(mark))).forEach(ProcessHandle::destroyForcibly);
    }

    @Test
    void a_turn_ends_at_the_result_event_and_kills_setsid_and_nohup_children() {
        // The setsid child keeps stdout open, the nohup one is re-parented away, and the harness
        // itself lingers after its result: each used to keep the turn open or outlive it.
        Path harness = FakeHarness.script(dir.resolve("bin/claude"), String.join("\n",
                "( setsid " + sleeper("setsid-child") + " & )",
                "nohup " + sleeper("nohup-child") + " >/dev/null 2>&1 &",
                "echo '" + INIT + "'", "echo '" + ANSWER + "'", "echo '" + RESULT + "'",
                "exec " + sleeper("lingering-harness"), ""));
        try (SessionFixture f = SessionFixture.start(dir.resolve("server"), s -> SessionFixture.with(s,
                harness.toString(), s.idleTimeout(), Duration.ofSeconds(20), s.maxConcurrentTurns(),
                s.maxTurnOutputBytes()), 0)) {
            f.publish("contained", SessionFixture.claudeApp("unused"));
            String session = f.open("contained");

            Response answered = f.message("contained", session, "hello");

            assertThat(answered.status()).as("answered at the result, not at the 20s turn timeout: "
                    + answered.body()).isEqualTo(200);
            assertThat(answered.json().at("/message/text").asText()).isEqualTo("done");
            await().atMost(Duration.ofSeconds(5)).until(() -> !LiveProcesses.anyWith(marker("setsid-child"))
                    && !LiveProcesses.anyWith(marker("nohup-child"))
                    && !LiveProcesses.anyWith(marker("lingering-harness")));
        }
    }

    /** A real server process, killed with SIGKILL during a turn, leaves no harness process behind. */
    @Test
    void killing_the_server_with_sigkill_kills_running_harnesses_and_their_children() throws Exception {
        Path harness = FakeHarness.script(dir.resolve("bin/claude"), String.join("\n",
                "( setsid " + sleeper("k-setsid") + " & )",
                "nohup " + sleeper("k-nohup") + " >/dev/null 2>&1 &",
                "echo '" + INIT + "'",
                "touch '" + dir.resolve("k-ready") + "'",
                "exec " + sleeper("k-harness"), ""));
        String key = TestServer.randomKey();
        Process server = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-cp", System.getProperty("java.class.path"), "dev.karta.server.Main",
                "--port", "0", "--data-dir", dir.resolve("data").toString(), "--bootstrap-key", key,
                "--harness-claude", harness.toString(), "--sandbox", "none")
                .redirectErrorStream(true).start();
        try {
            int port = ServerProcess.awaitListening(server);
            try (TestServer view = TestServer.attach(port, key)) {
                publish(view, "doomed");
                Response created = view.post("/v1/projects/doomed/sessions", key, "{}");
                assertThat(created.status()).as(created.body()).isEqualTo(201);
                String session = created.json().get("id").asText();
                CompletableFuture.runAsync(() -> {
                    try {
                        view.post("/v1/projects/doomed/sessions/" + session + "/messages", key, "{\"text\":\"hi\"}");
                    } catch (RuntimeException e) {
                        // The server dies under this request.
                    }
                });
                await().atMost(Duration.ofSeconds(30)).until(() -> Files.exists(dir.resolve("k-ready"))
                        && LiveProcesses.anyWith(marker("k-setsid")) && LiveProcesses.anyWith(marker("k-nohup"))
                        && LiveProcesses.anyWith(marker("k-harness")));

                server.destroyForcibly();

                await().atMost(Duration.ofSeconds(10)).until(() -> !LiveProcesses.anyWith(marker("k-setsid"))
                        && !LiveProcesses.anyWith(marker("k-nohup")) && !LiveProcesses.anyWith(marker("k-harness")));
            }
        } finally {
            server.destroyForcibly();
        }
    }

    private static void publish(TestServer server, String project) {
        Response accepted = server.send(server.request("/agent_projects/" + project + "/releases", server.adminKey())
                .header("Content-Type", "application/gzip")
                .POST(HttpRequest.BodyPublishers.ofByteArray(TarBuilder.files(SessionFixture.claudeApp("x")))));
        assertThat(accepted.status()).as(accepted.body()).isEqualTo(202);
        String deploy = accepted.json().get("id").asText();
        await().atMost(Duration.ofSeconds(30)).until(() -> {
            JsonNode d = server.get("/agent_projects/" + project + "/deploys/" + deploy, server.adminKey()).json();
            return d.get("status").asText().equals("succeeded");
        });
    }
}
