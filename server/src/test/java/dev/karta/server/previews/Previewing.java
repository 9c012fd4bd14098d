package dev.karta.server.previews;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.karta.server.Config;
import dev.karta.server.ingest.webhooks.Hooks;
import dev.karta.server.process.Sandbox;
import dev.karta.server.repos.FakeGitHub;
import dev.karta.server.sessions.FakeHarness;
import dev.karta.server.testkit.TarBuilder;
import dev.karta.server.testkit.TestDatabase;
import dev.karta.server.testkit.TestServer;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Test support for previews: a server whose GitHub is a {@link FakeGitHub} and whose harness is
 * the fake claude, commits that answer a marker, and {@code pull_request} deliveries made from a
 * real GitHub payload ({@code github/pull_request.opened.json}) with the repository, number, action
 * and head changed.
 */
public final class Previewing {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final AtomicInteger COMMITS = new AtomicInteger(5000);

    private Previewing() {
    }

    /** A server on {@code database} in {@code dir} with GitHub {@code github} and the fake harness. */
    static TestServer start(TestDatabase database, Path dir, FakeGitHub github, Config.Previews previews) {
        return TestServer.start(config(database, dir, github, previews));
    }

    /** The configuration of {@link #start}, for tests that add to it. */
    public static Config config(TestDatabase database, Path dir, FakeGitHub github, Config.Previews previews) {
        try {
            Path spy = dir.resolve("spy");
            Files.createDirectories(spy);
            Path claude = FakeHarness.claude(dir.resolve("bin"), spy);
            Map<String, String> env = new LinkedHashMap<>(Config.SessionSettings.inheritedEnvironment(List.of()));
            env.put("HOME", dir.resolve("home").toAbsolutePath().toString());
            Config.SessionSettings sessions = new Config.SessionSettings(claude.toString(), claude.toString(),
                    Duration.ofMinutes(10), Duration.ofSeconds(20), 16, 100_000, 1L << 20, env);
            return database.config(dir.resolve("data"))
                    .withRepos(new Config.Repos(github.apiUrl(), null, List.of("ssh"), 1L << 20)
                            .withAllowed(Set.of("acme"), List.of(github.archiveUrl() + "/")))
                    .withSessions(sessions)
                    .withPreviews(previews)
                    .toBuilder().sandbox(new Sandbox.Settings(Sandbox.Mode.NONE, null, List.of())).build();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** A commit of {@code repo} whose app answers {@code marker} (its {@code answer.txt}). */
    public static String commit(FakeGitHub github, String repo, String marker) {
        String sha = Hooks.sha(COMMITS.incrementAndGet());
        String top = repo.replace('/', '-') + "-" + sha.substring(0, 7) + "/";
        github.tarball(repo, sha, new TarBuilder()
                .dir(top)
                .file(top + "CLAUDE.md", "# " + marker + "\n")
                .file(top + "answer.txt", marker)
                .build());
        return sha;
    }

    /** GitHub's {@code pull_request} payload for {@code repo}, {@code action}, PR {@code number} and its head. */
    static String pullRequest(String repo, String action, int number, String headSha, String headRepo) {
        try (InputStream in = Previewing.class.getResourceAsStream("/github/pull_request.opened.json")) {
            ObjectNode payload = (ObjectNode) JSON.readTree(in);
            payload.put("action", action);
            payload.put("number", number);
            repository((ObjectNode) payload.get("repository"), repo);
            ObjectNode pr = (ObjectNode) payload.get("pull_request");
            pr.put("number", number);
            pr.put("state", action.equals("closed") ? "closed" : "open");
            ObjectNode head = (ObjectNode) pr.get("head");
            head.put("sha", headSha);
            if (headRepo == null) {
                head.putNull("repo");
            } else {
                repository((ObjectNode) head.get("repo"), headRepo);
            }
            repository((ObjectNode) pr.get("base").get("repo"), repo);
            return JSON.writeValueAsString(payload);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static void repository(ObjectNode repository, String fullName) {
        repository.put("full_name", fullName);
        repository.put("name", fullName.substring(fullName.indexOf('/') + 1));
        repository.put("html_url", "https://github.com/" + fullName);
        repository.put("clone_url", "https://github.com/" + fullName + ".git");
        repository.put("git_url", "git://github.com/" + fullName + ".git");
        repository.put("ssh_url", "git@github.com:" + fullName + ".git");
    }

    /** Delivers a signed {@code pull_request} event. */
    public static TestServer.Response deliver(TestServer server, String secret, String repo, String action, int number,
                                       String headSha, String headRepo) {
        return Hooks.deliver(server, "pull_request", Hooks.newDelivery(),
                pullRequest(repo, action, number, headSha, headRepo), secret);
    }

    /** Waits until the preview's status is one of {@code statuses}; returns it. */
    static JsonNode awaitPreview(TestServer server, String project, String name, String... statuses) {
        JsonNode[] last = new JsonNode[1];
        await().atMost(Duration.ofSeconds(60)).pollInterval(Duration.ofMillis(50)).until(() -> {
            TestServer.Response r = server.get("/agent_projects/" + project + "/previews/" + name, server.adminKey());
            last[0] = r.status() == 200 ? r.json() : null;
            return last[0] != null && List.of(statuses).contains(last[0].get("status").asText());
        });
        return last[0];
    }

    /** Waits until the preview is ready at {@code release}. */
    public static JsonNode awaitRelease(TestServer server, String project, String name, String release) {
        JsonNode[] last = new JsonNode[1];
        await().atMost(Duration.ofSeconds(60)).pollInterval(Duration.ofMillis(50)).until(() -> {
            last[0] = server.get("/agent_projects/" + project + "/previews/" + name, server.adminKey()).json();
            assertThat(last[0].get("status").asText()).as(last[0].toString()).isNotEqualTo("failed");
            return "ready".equals(last[0].get("status").asText()) && release.equals(last[0].path("release").asText());
        });
        return last[0];
    }

    /** Sends {@code text} to a session and answers the reply's text. */
    static String say(TestServer server, String path, String text) {
        TestServer.Response reply = server.post(path + "/messages", server.adminKey(),
                "{\"text\":\"" + text + "\"}");
        assertThat(reply.status()).as(reply.body()).isEqualTo(200);
        return reply.json().get("message").get("text").asText();
    }
}
