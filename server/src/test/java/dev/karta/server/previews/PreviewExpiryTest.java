package dev.karta.server.previews;

import static dev.karta.server.previews.Previewing.awaitPreview;
import static dev.karta.server.previews.Previewing.awaitRelease;
import static dev.karta.server.previews.Previewing.commit;
import static dev.karta.server.previews.Previewing.deliver;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import dev.karta.server.Config;
import dev.karta.server.ingest.webhooks.Hooks;
import dev.karta.server.repos.FakeGitHub;
import dev.karta.server.testkit.EachDatabase;
import dev.karta.server.testkit.TestDatabase;
import dev.karta.server.testkit.TestServer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.AfterParameterizedClassInvocation;
import org.junit.jupiter.params.BeforeParameterizedClassInvocation;
import org.junit.jupiter.params.Parameter;
import org.junit.jupiter.params.ParameterizedClass;
import org.junit.jupiter.params.provider.ArgumentsSource;

/**
 * Preview expiry by TTL (a server with a 3 s TTL, swept every 200 ms) and by the cap (2 per
 * project), trees handed back to retention, and commit statuses reported to GitHub.
 */
@ParameterizedClass(name = "on {0}")
@ArgumentsSource(EachDatabase.class)
class PreviewExpiryTest {
    private static final AtomicInteger PROJECTS = new AtomicInteger();
    private static final Duration TTL = Duration.ofSeconds(3);

    @Parameter
    TestDatabase database;
    @TempDir
    static Path temp;
    static Path dir;
    static FakeGitHub github;
    static TestServer server;

    @BeforeParameterizedClassInvocation
    static void start(TestDatabase database) {
        github = FakeGitHub.start();
        dir = temp.resolve(database.toString());
        server = Previewing.start(database, dir, github, new Config.Previews(TTL, 2, Duration.ofMillis(200)));
    }

    @AfterParameterizedClassInvocation
    static void stop() {
        server.close();
        github.close();
    }

    private record Bound(String project, String repo, String secret) {
    }

    private static Bound bound(String extra) {
        String project = "px-" + PROJECTS.incrementAndGet();
        String repo = "acme/" + project;
        assertThat(server.post("/agent_projects", server.adminKey(), "{\"name\":\"" + project + "\"}").status())
                .isEqualTo(201);
        TestServer.Response bound = Hooks.bind(server, server.adminKey(), project,
                "{\"url\":\"https://github.com/" + repo + "\"" + extra + "}");
        assertThat(bound.status()).as(bound.body()).isEqualTo(200);
        return new Bound(project, repo, bound.json().get("webhook_secret").asText());
    }

    @Test
    void a_preview_without_a_push_for_the_ttl_expires_and_its_tree_goes_back_to_retention() {
        Bound b = bound("");
        deliver(server, b.secret(), b.repo(), "opened", 1, commit(github, b.repo(), "short lived " + b.project()),
                b.repo());
        JsonNode ready = awaitRelease(server, b.project(), "pr-1", "pr-1.1");
        String digest = treeOf(b.project());
        if (!database.isPostgres()) {
            assertThat(dir.resolve("data/trees").resolve(digest)).isDirectory();
        }

        JsonNode expired = awaitPreview(server, b.project(), "pr-1", "expired");

        assertThat(expired.get("expire_reason").asText()).isEqualTo("ttl");
        assertThat(java.time.Instant.parse(expired.get("expired_at").asText()))
                .isAfterOrEqualTo(java.time.Instant.parse(ready.get("expires_at").asText()));
        assertThat(server.post("/v1/projects/" + b.project() + "/previews/pr-1/sessions", server.adminKey(), "{}")
                .status()).isEqualTo(409);
        if (!database.isPostgres()) {
            await().atMost(Duration.ofSeconds(20)).until(() -> !Files.exists(dir.resolve("data/trees").resolve(digest)));
        }
    }

    @Test
    void a_push_moves_the_expiry_time_on() {
        Bound b = bound("");
        deliver(server, b.secret(), b.repo(), "opened", 2, commit(github, b.repo(), "kept"), b.repo());
        JsonNode first = awaitRelease(server, b.project(), "pr-2", "pr-2.1");

        deliver(server, b.secret(), b.repo(), "synchronize", 2, commit(github, b.repo(), "kept again"), b.repo());
        JsonNode second = awaitRelease(server, b.project(), "pr-2", "pr-2.2");

        assertThat(java.time.Instant.parse(second.get("expires_at").asText()))
                .isAfter(java.time.Instant.parse(first.get("expires_at").asText()));
    }

    @Test
    void over_the_cap_the_least_recently_pushed_preview_expires_first() {
        Bound b = bound("");
        for (int pr = 1; pr <= 3; pr++) {
            TestServer.Response r = deliver(server, b.secret(), b.repo(), "opened", pr,
                    commit(github, b.repo(), "cap " + pr), b.repo());
            assertThat(r.status()).as(r.body()).isEqualTo(202);
        }

        JsonNode oldest = server.get("/agent_projects/" + b.project() + "/previews/pr-1", server.adminKey()).json();
        assertThat(oldest.get("status").asText()).isEqualTo("expired");
        assertThat(oldest.get("expire_reason").asText()).isEqualTo("cap");
        awaitRelease(server, b.project(), "pr-3", "pr-3.1");
        JsonNode list = server.get("/agent_projects/" + b.project() + "/previews", server.adminKey()).json();
        assertThat(list.get("previews")).extracting(p -> p.get("name").asText() + ":"
                + (p.get("status").asText().equals("expired") ? "expired" : "live"))
                .containsExactly("pr-3:live", "pr-2:live", "pr-1:expired");
    }

    @Test
    void previews_are_reported_to_github_as_commit_statuses_with_the_binding_token() {
        Bound b = bound(",\"token\":\"ghp_statuses\"");
        String good = commit(github, b.repo(), "reported");
        deliver(server, b.secret(), b.repo(), "opened", 4, good, b.repo());
        awaitRelease(server, b.project(), "pr-4", "pr-4.1");
        String bad = "e".repeat(40);
        deliver(server, b.secret(), b.repo(), "synchronize", 4, bad, b.repo());

        await().atMost(Duration.ofSeconds(30)).until(() -> github.statuses().stream()
                .anyMatch(s -> s.sha().equals(bad) && s.body().contains("\"state\":\"failure\"")));
        List<FakeGitHub.Status> sent = github.statuses().stream().filter(s -> s.fullName().equals(b.repo())).toList();
        assertThat(sent.subList(0, 2)).extracting(FakeGitHub.Status::sha).containsExactly(good, good);
        assertThat(sent.get(0).body()).contains("\"state\":\"pending\"").contains("\"context\":\"karta/preview\"");
        assertThat(sent.get(1).body()).contains("\"state\":\"success\"")
                .contains("/v1/projects/" + b.project() + "/previews/pr-4");
        // The failing build may end before its pending status is sent: then that one is dropped, never sent last.
        List<FakeGitHub.Status> ofBad = sent.subList(2, sent.size());
        assertThat(ofBad).extracting(FakeGitHub.Status::sha).containsOnly(bad).hasSizeBetween(1, 2);
        assertThat(ofBad.get(ofBad.size() - 1).body()).contains("\"state\":\"failure\"").contains("/deploys/dep_")
                .contains("/logs");
        assertThat(sent).allSatisfy(s -> assertThat(s.authorization()).isEqualTo("Bearer ghp_statuses"));
    }

    @Test
    void without_a_token_no_status_is_reported_and_the_build_is_unaffected() {
        Bound b = bound("");
        deliver(server, b.secret(), b.repo(), "opened", 5, commit(github, b.repo(), "quiet"), b.repo());

        awaitRelease(server, b.project(), "pr-5", "pr-5.1");

        assertThat(github.statuses()).noneMatch(s -> s.fullName().equals(b.repo()));
    }

    private static String treeOf(String project) {
        try (var db = server.openDatabase()) {
            return db.withHandle(h -> h.createQuery("SELECT r.content_digest FROM preview_releases r JOIN projects p "
                    + "ON p.id = r.project_id WHERE p.name = :n").bind("n", project).mapTo(String.class).one())
                    .substring("sha256:".length());
        }
    }
}
