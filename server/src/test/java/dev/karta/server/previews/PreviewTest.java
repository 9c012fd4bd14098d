package dev.karta.server.previews;

import static dev.karta.server.previews.Previewing.awaitPreview;
import static dev.karta.server.previews.Previewing.awaitRelease;
import static dev.karta.server.previews.Previewing.commit;
import static dev.karta.server.previews.Previewing.deliver;
import static dev.karta.server.previews.Previewing.say;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import dev.karta.server.Config;
import dev.karta.server.ingest.webhooks.Hooks;
import dev.karta.server.repos.FakeGitHub;
import dev.karta.server.testkit.EachDatabase;
import dev.karta.server.testkit.TestDatabase;
import dev.karta.server.testkit.TestServer;
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

/** Preview releases per pull request (docs/previews.md), end to end through signed GitHub deliveries. */
@ParameterizedClass(name = "on {0}")
@ArgumentsSource(EachDatabase.class)
class PreviewTest {
    private static final AtomicInteger PROJECTS = new AtomicInteger();

    @Parameter
    TestDatabase database;
    @TempDir
    static Path temp;
    static FakeGitHub github;
    static TestServer server;

    @BeforeParameterizedClassInvocation
    static void start(TestDatabase database) {
        github = FakeGitHub.start();
        server = Previewing.start(database, temp.resolve(database.toString()), github, Config.Previews.DEFAULTS);
    }

    @AfterParameterizedClassInvocation
    static void stop() {
        server.close();
        github.close();
    }

    /** A project bound to its own repository {@code acme/pv-N}, with its secret. */
    private record Bound(String project, String repo, String secret) {
        String preview(int number) {
            return "/v1/projects/" + project + "/previews/pr-" + number;
        }
    }

    private static Bound bound(String extra) {
        String project = "pv-" + PROJECTS.incrementAndGet();
        String repo = "acme/" + project;
        assertThat(server.post("/agent_projects", server.adminKey(), "{\"name\":\"" + project + "\"}").status())
                .isEqualTo(201);
        TestServer.Response bound = Hooks.bind(server, server.adminKey(), project,
                "{\"url\":\"https://github.com/" + repo + "\"" + extra + "}");
        assertThat(bound.status()).as(bound.body()).isEqualTo(200);
        return new Bound(project, repo, bound.json().get("webhook_secret").asText());
    }

    private static Bound bound() {
        return bound("");
    }

    private static JsonNode createSession(String path) {
        TestServer.Response created = server.post(path + "/sessions", server.adminKey(), "{}");
        assertThat(created.status()).as(created.body()).isEqualTo(201);
        return created.json();
    }

    @Test
    void an_opened_pull_request_builds_a_preview_with_its_url_and_leaves_production_alone() {
        Bound b = bound();
        String head = commit(github, b.repo(), "preview one");

        TestServer.Response answer = deliver(server, b.secret(), b.repo(), "opened", 42, head, b.repo());

        assertThat(answer.status()).as(answer.body()).isEqualTo(202);
        assertThat(answer.json().get("outcome").asText()).isEqualTo("deployed");
        assertThat(answer.json().get("preview").asText()).isEqualTo("pr-42");
        JsonNode preview = awaitRelease(server, b.project(), "pr-42", "pr-42.1");
        assertThat(preview.get("name").asText()).isEqualTo("pr-42");
        assertThat(preview.get("url").asText()).isEqualTo(server.uri(b.preview(42)).toString());
        assertThat(preview.get("commit_sha").asText()).isEqualTo(head);
        assertThat(preview.get("expires_at").isNull()).isFalse();
        JsonNode project = server.get("/agent_projects/" + b.project(), server.adminKey()).json();
        assertThat(project.get("current_release").isNull()).as("a preview never moves the pointer").isTrue();
        assertThat(Hooks.releases(server, b.project())).as("nor takes a production number").isEmpty();
        assertThat(server.post("/v1/projects/" + b.project() + "/sessions", server.adminKey(), "{}").status())
                .isEqualTo(409);
        JsonNode deploy = Hooks.deploys(server, b.project()).get(0);
        assertThat(deploy.get("preview").asText()).isEqualTo("pr-42");
        assertThat(deploy.get("source").asText()).isEqualTo("webhook");
        assertThat(deploy.get("release").isNull()).isTrue();
        JsonNode listed = server.get("/agent_projects/" + b.project() + "/previews", server.adminKey()).json();
        assertThat(listed.get("previews")).hasSize(1);
        assertThat(github.seen()).anySatisfy(s -> assertThat(s.path())
                .isEqualTo("/repos/" + b.repo() + "/tarball/" + head));
    }

    @Test
    void sessions_on_the_preview_url_run_its_release_and_a_new_push_moves_only_new_sessions() {
        Bound b = bound();
        deliver(server, b.secret(), b.repo(), "opened", 7, commit(github, b.repo(), "first build"), b.repo());
        awaitRelease(server, b.project(), "pr-7", "pr-7.1");

        JsonNode first = createSession(b.preview(7));
        assertThat(first.get("project").get("version").asText()).isEqualTo("pr-7.1");
        assertThat(first.get("project").get("preview").asText()).isEqualTo("pr-7");
        String firstPath = b.preview(7) + "/sessions/" + first.get("id").asText();
        assertThat(say(server, firstPath, "hello")).isEqualTo("first build");

        TestServer.Response pushed = deliver(server, b.secret(), b.repo(), "synchronize", 7,
                commit(github, b.repo(), "second build"), b.repo());
        assertThat(pushed.status()).as(pushed.body()).isEqualTo(202);
        awaitRelease(server, b.project(), "pr-7", "pr-7.2");

        JsonNode second = createSession(b.preview(7));
        assertThat(second.get("project").get("version").asText()).isEqualTo("pr-7.2");
        assertThat(say(server, b.preview(7) + "/sessions/" + second.get("id").asText(), "hi")).isEqualTo("second build");
        assertThat(say(server, firstPath, "again")).as("a running session stays on its release").isEqualTo("first build");
        assertThat(server.get(firstPath, server.adminKey()).json().get("project").get("version").asText())
                .isEqualTo("pr-7.1");
        assertThat(server.get("/v1/projects/" + b.project() + "/previews/pr-8/sessions/" + first.get("id").asText(),
                server.adminKey()).status()).as("a session answers under its own preview only").isEqualTo(404);
        assertThat(server.get("/v1/projects/" + b.project() + "/sessions/" + first.get("id").asText(),
                server.adminKey()).status()).as("and under the project, like every session").isEqualTo(200);
        JsonNode listed = server.get(b.preview(7) + "/sessions", server.adminKey()).json().get("sessions");
        assertThat(listed.findValuesAsText("id")).containsExactly(second.get("id").asText(), first.get("id").asText());
        assertThat(server.get(b.preview(7) + "/sessions?status=ended", server.adminKey()).json().get("sessions"))
                .isEmpty();
        assertThat(server.get(b.preview(8) + "/sessions", server.adminKey()).status())
                .as("a preview the project never had").isEqualTo(404);
    }

    @Test
    void a_preview_runs_with_the_project_config_as_of_its_build() {
        Bound b = bound();
        assertThat(server.patch("/agent_projects/" + b.project() + "/config", server.adminKey(),
                "{\"set\":{\"GREETING\":\"hello from config\"}}").status()).isEqualTo(200);
        deliver(server, b.secret(), b.repo(), "opened", 3, commit(github, b.repo(), "cfg"), b.repo());
        awaitRelease(server, b.project(), "pr-3", "pr-3.1");

        JsonNode session = createSession(b.preview(3));

        assertThat(say(server, b.preview(3) + "/sessions/" + session.get("id").asText(), "getenv:GREETING"))
                .isEqualTo("hello from config");
    }

    @Test
    void closing_the_pull_request_expires_the_preview_and_refuses_new_sessions() {
        Bound b = bound();
        String head = commit(github, b.repo(), "to close");
        deliver(server, b.secret(), b.repo(), "opened", 9, head, b.repo());
        awaitRelease(server, b.project(), "pr-9", "pr-9.1");

        TestServer.Response closed = deliver(server, b.secret(), b.repo(), "closed", 9, head, b.repo());

        assertThat(closed.status()).as(closed.body()).isEqualTo(200);
        assertThat(closed.json().get("outcome").asText()).isEqualTo("expired");
        JsonNode preview = server.get("/agent_projects/" + b.project() + "/previews/pr-9", server.adminKey()).json();
        assertThat(preview.get("status").asText()).isEqualTo("expired");
        assertThat(preview.get("expire_reason").asText()).isEqualTo("closed");
        TestServer.Response refused = server.post(b.preview(9) + "/sessions", server.adminKey(), "{}");
        assertThat(refused.status()).isEqualTo(409);
        assertThat(refused.json().get("error").asText()).isEqualTo("preview_expired");

        TestServer.Response reopened = deliver(server, b.secret(), b.repo(), "reopened", 9, head, b.repo());
        assertThat(reopened.status()).isEqualTo(202);
        awaitRelease(server, b.project(), "pr-9", "pr-9.2");
    }

    @Test
    void a_redelivered_pull_request_event_queues_nothing() {
        Bound b = bound();
        String body = Previewing.pullRequest(b.repo(), "opened", 11, commit(github, b.repo(), "once"), b.repo());
        String delivery = Hooks.newDelivery();

        assertThat(Hooks.deliver(server, "pull_request", delivery, body, b.secret()).status()).isEqualTo(202);
        TestServer.Response again = Hooks.deliver(server, "pull_request", delivery, body, b.secret());

        assertThat(again.status()).isEqualTo(200);
        assertThat(again.json().get("outcome").asText()).isEqualTo("duplicate");
        assertThat(Hooks.deploys(server, b.project())).hasSize(1);
        assertThat(Hooks.deliver(server, "pull_request", Hooks.newDelivery(), body, "0".repeat(64)).status())
                .as("a wrong signature").isEqualTo(401);
    }

    @Test
    void a_pull_request_from_a_fork_is_skipped_unless_the_binding_allows_forks() {
        Bound b = bound();
        String head = commit(github, b.repo(), "from a fork");

        TestServer.Response skipped = deliver(server, b.secret(), b.repo(), "opened", 5, head, "mallory/" + b.project());
        TestServer.Response deleted = deliver(server, b.secret(), b.repo(), "opened", 6, head, null);

        assertThat(skipped.status()).isEqualTo(200);
        assertThat(skipped.json().get("outcome").asText()).isEqualTo("ignored");
        assertThat(skipped.json().get("message").asText()).contains("previews_from_forks");
        assertThat(deleted.json().get("outcome").asText()).isEqualTo("ignored");
        assertThat(Hooks.deploys(server, b.project())).isEmpty();

        Bound forks = bound(",\"previews_from_forks\":true");
        assertThat(server.get("/agent_projects/" + forks.project() + "/repo", server.adminKey()).json()
                .get("previews_from_forks").asBoolean()).isTrue();
        String forked = commit(github, forks.repo(), "fork allowed");
        TestServer.Response built = deliver(server, forks.secret(), forks.repo(), "opened", 5, forked,
                "mallory/" + forks.project());
        assertThat(built.status()).as(built.body()).isEqualTo(202);
        awaitRelease(server, forks.project(), "pr-5", "pr-5.1");
    }

    @Test
    void promote_makes_the_preview_release_the_next_production_release_without_rebuilding() {
        Bound b = bound();
        String head = commit(github, b.repo(), "promoted");
        deliver(server, b.secret(), b.repo(), "opened", 12, head, b.repo());
        awaitRelease(server, b.project(), "pr-12", "pr-12.1");
        int tarballs = (int) github.seen().stream().filter(s -> s.path().contains("/tarball/")).count();

        TestServer.Response promoted = server.post("/agent_projects/" + b.project() + "/previews/pr-12/promote",
                server.adminKey(), "{}");

        assertThat(promoted.status()).as(promoted.body()).isEqualTo(200);
        assertThat(promoted.json().get("release").asText()).isEqualTo("v1");
        assertThat(promoted.json().get("live").asBoolean()).isTrue();
        JsonNode release = Hooks.releases(server, b.project()).get(0);
        assertThat(release.get("source").asText()).isEqualTo("promote");
        assertThat(release.get("commit_sha").asText()).isEqualTo(head);
        assertThat(release.get("status").asText()).isEqualTo("active");
        assertThat(github.seen().stream().filter(s -> s.path().contains("/tarball/")).count())
                .as("no rebuild").isEqualTo(tarballs);
        JsonNode session = createSession("/v1/projects/" + b.project());
        assertThat(session.get("project").get("version").asText()).isEqualTo("v1");
        assertThat(say(server, "/v1/projects/" + b.project() + "/sessions/" + session.get("id").asText(), "x"))
                .isEqualTo("promoted");
        assertThat(server.get("/audit_events", server.adminKey()).body()).contains("release.promote");
    }

    @Test
    void promoting_onto_a_pinned_project_builds_the_release_but_keeps_the_pin() {
        Bound b = bound();
        deliver(server, b.secret(), b.repo(), "opened", 1, commit(github, b.repo(), "a"), b.repo());
        awaitRelease(server, b.project(), "pr-1", "pr-1.1");
        server.post("/agent_projects/" + b.project() + "/previews/pr-1/promote", server.adminKey(), "{}");
        assertThat(server.post("/agent_projects/" + b.project() + "/rollback", server.adminKey(), "{\"to\":\"v1\"}")
                .status()).isEqualTo(200);
        deliver(server, b.secret(), b.repo(), "synchronize", 1, commit(github, b.repo(), "b"), b.repo());
        awaitRelease(server, b.project(), "pr-1", "pr-1.2");

        TestServer.Response promoted = server.post("/agent_projects/" + b.project() + "/previews/pr-1/promote",
                server.adminKey(), "{}");

        assertThat(promoted.status()).as(promoted.body()).isEqualTo(200);
        assertThat(promoted.json().get("release").asText()).isEqualTo("v2");
        assertThat(promoted.json().get("live").asBoolean()).isFalse();
        assertThat(promoted.json().get("message").asText()).contains("is pinned to v1");
        JsonNode project = server.get("/agent_projects/" + b.project(), server.adminKey()).json();
        assertThat(project.get("current_release").get("version").asText()).isEqualTo("v1");
    }

    @Test
    void ci_without_a_binding_creates_lists_and_deletes_previews_through_the_api_with_scopes() {
        Bound b = bound();
        String head = commit(github, b.repo(), "from ci");
        String reader = server.createKey("pv-reader-" + b.project(), "read");
        String writer = server.createKey("pv-writer-" + b.project(), "write");
        String path = "/agent_projects/" + b.project() + "/previews";

        assertThat(server.post(path, reader, "{\"name\":\"pr-4\",\"commit_sha\":\"" + head + "\"}").status())
                .isEqualTo(403);
        assertThat(server.post(path, writer, "{\"name\":\"4\",\"commit_sha\":\"" + head + "\"}").status())
                .isEqualTo(400);
        assertThat(server.post(path, writer, "{\"name\":\"pr-4\",\"commit_sha\":\"not a sha\"}").status())
                .isEqualTo(400);
        TestServer.Response created = server.post(path, writer, "{\"name\":\"pr-4\",\"commit_sha\":\"" + head + "\"}");
        assertThat(created.status()).as(created.body()).isEqualTo(202);
        assertThat(created.json().get("status").asText()).isEqualTo("building");
        assertThat(created.json().get("deploy_id").asText()).startsWith("dep_");
        awaitRelease(server, b.project(), "pr-4", "pr-4.1");
        assertThat(server.get(path, reader).json().get("previews").get(0).get("name").asText()).isEqualTo("pr-4");
        assertThat(server.post(path + "/pr-4/promote", writer, "{}").status()).as("promote is admin").isEqualTo(403);
        assertThat(server.delete(path + "/pr-4", reader).status()).isEqualTo(403);
        assertThat(server.get(path + "/pr-99", reader).status()).isEqualTo(404);

        assertThat(server.delete(path + "/pr-4", writer).status()).isEqualTo(204);

        assertThat(server.get(path + "/pr-4", reader).json().get("status").asText()).isEqualTo("expired");
        String other = server.createOrg("pv-other-" + b.project());
        assertThat(server.get(path, other).status()).as("another org sees nothing").isEqualTo(404);
    }

    @Test
    void a_failed_preview_build_says_failed_and_keeps_serving_the_last_good_release() {
        Bound b = bound();
        deliver(server, b.secret(), b.repo(), "opened", 8, commit(github, b.repo(), "good"), b.repo());
        awaitRelease(server, b.project(), "pr-8", "pr-8.1");

        deliver(server, b.secret(), b.repo(), "synchronize", 8, "f".repeat(40), b.repo());

        JsonNode failed = awaitPreview(server, b.project(), "pr-8", "failed");
        assertThat(failed.get("release").asText()).isEqualTo("pr-8.1");
        assertThat(failed.get("error").asText()).isNotEmpty();
        assertThat(createSession(b.preview(8)).get("project").get("version").asText()).isEqualTo("pr-8.1");
    }

    @Test
    void preview_builds_neither_supersede_nor_overtake_a_queued_production_deploy() throws Exception {
        Bound b = bound();
        String running = commit(github, b.repo(), "running");
        java.util.concurrent.CountDownLatch gate = github.gate(running);
        String queued = commit(github, b.repo(), "queued production");
        assertThat(Hooks.deployCommit(server, b.project(), running).status()).isEqualTo(202);
        await().atMost(Duration.ofSeconds(30)).until(() -> "building".equals(
                Hooks.deploys(server, b.project()).get(0).get("status").asText()));
        TestServer.Response preview = deliver(server, b.secret(), b.repo(), "opened", 2,
                commit(github, b.repo(), "preview"), b.repo());
        assertThat(preview.status()).isEqualTo(202);
        assertThat(Hooks.deployCommit(server, b.project(), queued).status()).isEqualTo(202);
        String prodDeploy = Hooks.deploys(server, b.project()).get(0).get("id").asText();

        gate.countDown();

        JsonNode prod = Hooks.awaitDeployEnded(server, b.project(), prodDeploy);
        assertThat(prod.get("status").asText()).isEqualTo("succeeded");
        JsonNode pv = Hooks.awaitDeployEnded(server, b.project(), preview.json().get("deploy_id").asText());
        assertThat(pv.get("status").asText()).as("a production deploy supersedes no preview build")
                .isEqualTo("succeeded");
        assertThat(java.time.Instant.parse(prod.get("started_at").asText()))
                .as("production first: the production deploy queued after the preview build starts before it")
                .isBeforeOrEqualTo(java.time.Instant.parse(pv.get("started_at").asText()));
        assertThat(Hooks.releases(server, b.project())).hasSize(2);
    }

    @Test
    void deleting_the_project_deletes_its_previews_their_releases_and_sessions() {
        Bound b = bound();
        deliver(server, b.secret(), b.repo(), "opened", 13, commit(github, b.repo(), "doomed"), b.repo());
        awaitRelease(server, b.project(), "pr-13", "pr-13.1");
        createSession(b.preview(13));

        TestServer.Response deleted = server.delete("/agent_projects/" + b.project(), server.adminKey());

        assertThat(deleted.status()).as(deleted.body()).isEqualTo(204);
        try (var db = server.openDatabase()) {
            for (String table : List.of("previews", "preview_releases")) {
                long orphans = db.withHandle(h -> h.createQuery("SELECT COUNT(*) FROM " + table + " t WHERE NOT EXISTS "
                        + "(SELECT 1 FROM projects p WHERE p.id = t.project_id)").mapTo(Long.class).one());
                assertThat(orphans).as(table).isZero();
            }
            long sessions = db.withHandle(h -> h.createQuery("SELECT COUNT(*) FROM sessions WHERE preview_release_id IS "
                    + "NOT NULL AND preview_release_id NOT IN (SELECT id FROM preview_releases)").mapTo(Long.class).one());
            assertThat(sessions).isZero();
        }
        assertThat(server.get("/agent_projects/" + b.project() + "/previews", server.adminKey()).status())
                .isEqualTo(404);
    }
}
