package dev.karta.server.repos;

import static dev.karta.server.ingest.webhooks.Hooks.deployCommit;
import static dev.karta.server.ingest.webhooks.Hooks.sha;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import com.sun.net.httpserver.HttpServer;
import dev.karta.server.Config;
import dev.karta.server.testkit.TarBuilder;
import dev.karta.server.testkit.TestServer;
import dev.karta.server.ingest.webhooks.Hooks;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.List;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.zip.GZIPOutputStream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A repository host that never answers, or answers a byte at a time, cannot hold a build worker
 * or a request: connect and read timeouts of 1 s and a fetch deadline of 3 s here, enforced by
 * closing the connection (or killing ssh); a short SHA is resolved within 1 s or left to the build.
 */
class OutboundTimeoutTest {
    private static final Duration DEADLINE = Duration.ofSeconds(3);
    /** The deadline, the retries' backoff and the build's own overhead, with room for a slow machine. */
    private static final Duration ENDS_WITHIN = Duration.ofSeconds(20);

    @TempDir
    static Path dir;
    static FakeGitHub github;
    static TestServer server;
    /** Accepts connections and never answers. */
    static ServerSocket silent;
    static final List<Socket> held = new CopyOnWriteArrayList<>();
    /** A GitHub API (operator configuration) whose tarballs trickle one byte every 200 ms. */
    static HttpServer trickler;

    @BeforeAll
    static void start() throws IOException {
        github = FakeGitHub.start();
        silent = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
        Thread accepting = new Thread(() -> {
            while (!silent.isClosed()) {
                try {
                    held.add(silent.accept());
                } catch (IOException e) {
                    return;
                }
            }
        });
        accepting.setDaemon(true);
        accepting.start();
        byte[] tarball = bigTarball();
        trickler = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
        trickler.createContext("/", exchange -> {
            exchange.sendResponseHeaders(200, 0);
            try (OutputStream out = exchange.getResponseBody()) {
                for (byte b : tarball) {
                    out.write(b);
                    out.flush();
                    Thread.sleep(200);
                }
            } catch (IOException | InterruptedException e) {
                // the server hung up: that is the point
            }
        });
        trickler.setExecutor(java.util.concurrent.Executors.newCachedThreadPool());
        trickler.start();
        Path fakeSsh = dir.resolve("bin/hanging-ssh");
        Files.createDirectories(fakeSsh.getParent());
        Files.writeString(fakeSsh, "#!/bin/sh\nexec sleep 600\n");
        Files.setPosixFilePermissions(fakeSsh, PosixFilePermissions.fromString("rwxr-xr-x"));
        server = Hooks.start(dir.resolve("data"), new Config.Repos(github.apiUrl(), null, List.of(fakeSsh.toString()),
                1L << 20).withAllowed(Set.of(), List.of(github.archiveUrl() + "/",
                        "http://127.0.0.1:" + silent.getLocalPort() + "/", "ssh://git@hanging.example.com/"))
                .withTimeouts(Duration.ofSeconds(1), Duration.ofSeconds(1), DEADLINE, Duration.ofSeconds(1)));
    }

    @AfterAll
    static void stop() throws IOException {
        server.close();
        github.close();
        trickler.stop(0);
        silent.close();
        for (Socket socket : held) {
            socket.close();
        }
    }

    private static byte[] bigTarball() throws IOException {
        byte[] noise = new byte[4096];
        new Random(5).nextBytes(noise);
        byte[] tar = new TarBuilder().dir("o-r-x/").file("o-r-x/CLAUDE.md", "# slow\n")
                .file("o-r-x/noise.txt", java.util.Base64.getEncoder().encodeToString(noise)).build();
        // Stored, not compressed again: every byte is needed, none comes early.
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        try (GZIPOutputStream gzip = new GZIPOutputStream(out)) {
            gzip.write(new java.util.zip.GZIPInputStream(new java.io.ByteArrayInputStream(tar)).readAllBytes());
        }
        return out.toByteArray();
    }

    private static JsonNode failsWithin(TestServer on, String project, String sha) {
        TestServer.Response accepted = deployCommit(on, project, sha);
        assertThat(accepted.status()).as(accepted.body()).isEqualTo(202);
        String id = accepted.json().get("deploy_id").asText();
        JsonNode[] last = new JsonNode[1];
        await().atMost(ENDS_WITHIN).pollInterval(Duration.ofMillis(100)).until(() -> {
            last[0] = on.get("/agent_projects/" + project + "/deploys/" + id, on.adminKey()).json();
            return last[0].get("status").asText().equals("failed");
        });
        return last[0];
    }

    @Test
    void a_git_host_that_accepts_and_never_answers_fails_the_fetch_at_the_deadline() {
        Hooks.createAndBind(server, "silent-git", "http://127.0.0.1:" + silent.getLocalPort() + "/x.git", null);

        JsonNode failed = failsWithin(server, "silent-git", sha(1));

        assertThat(failed.get("error").asText()).isEqualTo("could not fetch http://127.0.0.1:" + silent.getLocalPort()
                + "/x.git: timed out after 3 s (the fetch deadline)");
    }

    @Test
    void an_ssh_fetch_that_never_answers_is_killed_at_the_deadline() {
        Hooks.createAndBind(server, "silent-ssh", "ssh://git@hanging.example.com/x.git", null);

        JsonNode failed = failsWithin(server, "silent-ssh", sha(2));

        assertThat(failed.get("error").asText()).isEqualTo("could not fetch ssh://git@hanging.example.com/x.git: "
                + "timed out after 3 s (the fetch deadline)");
    }

    @Test
    void a_tarball_trickled_a_byte_at_a_time_is_cut_at_the_deadline(@TempDir Path otherData) {
        try (TestServer slow = Hooks.start(otherData, new Config.Repos("http://127.0.0.1:"
                + trickler.getAddress().getPort(), null, List.of("ssh"), 1L << 20)
                .withTimeouts(Duration.ofSeconds(1), Duration.ofSeconds(1), DEADLINE, Duration.ofSeconds(1)))) {
            Hooks.createAndBind(slow, "trickled", "acme/trickled", null);

            JsonNode failed = failsWithin(slow, "trickled", sha(3));

            assertThat(failed.get("error").asText()).isEqualTo("could not download the tarball of acme/trickled@"
                    + sha(3) + ": timed out after 3 s (the fetch deadline)");
        }
    }

    @Test
    void a_short_sha_github_does_not_resolve_in_time_is_accepted_and_resolved_by_the_build() {
        String sha = sha(4);
        github.commit("acme/slow-resolve", sha, "resolved later");
        Hooks.createAndBind(server, "slow-resolve", "acme/slow-resolve", null);
        CountDownLatch held = github.holdCommits();
        try {
            long start = System.nanoTime();
            TestServer.Response accepted = deployCommit(server, "slow-resolve", sha.substring(0, 7));
            Duration took = Duration.ofNanos(System.nanoTime() - start);

            assertThat(accepted.status()).as(accepted.body()).isEqualTo(202);
            assertThat(accepted.json().get("commit_sha").asText()).isEqualTo(sha.substring(0, 7));
            assertThat(took).isLessThan(Duration.ofSeconds(4));
            held.countDown();
            JsonNode ended = Hooks.awaitDeployEnded(server, "slow-resolve", accepted.json().get("deploy_id").asText());
            assertThat(ended.get("status").asText()).as(ended.toString()).isEqualTo("succeeded");
            assertThat(Hooks.projectLog(server, "slow-resolve")).contains("Resolved commit " + sha.substring(0, 7)
                    + " to " + sha);
        } finally {
            held.countDown();
        }
    }

    @Test
    void a_short_sha_of_a_git_host_that_never_answers_is_accepted_within_the_resolve_timeout() {
        Hooks.createAndBind(server, "silent-resolve", "http://127.0.0.1:" + silent.getLocalPort() + "/y.git", null);

        long start = System.nanoTime();
        TestServer.Response accepted = deployCommit(server, "silent-resolve", "abc1234");
        Duration took = Duration.ofNanos(System.nanoTime() - start);

        assertThat(accepted.status()).as(accepted.body()).isEqualTo(202);
        assertThat(accepted.json().get("commit_sha").asText()).isEqualTo("abc1234");
        assertThat(took).isLessThan(Duration.ofSeconds(4));
    }
}
