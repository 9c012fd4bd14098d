package dev.karta.server.repos;

import static dev.karta.server.ingest.webhooks.Hooks.bind;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import dev.karta.server.ingest.webhooks.Hooks;
import dev.karta.server.testkit.EachDatabase;
import dev.karta.server.testkit.TestDatabase;
import dev.karta.server.testkit.TestServer;
import java.net.http.HttpRequest;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.AfterParameterizedClassInvocation;
import org.junit.jupiter.params.BeforeParameterizedClassInvocation;
import org.junit.jupiter.params.Parameter;
import org.junit.jupiter.params.ParameterizedClass;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ArgumentsSource;
import org.junit.jupiter.params.provider.ValueSource;

/** {@code /agent_projects/{p}/repo}: bind, show, unbind and rotate-secret, with scopes, org isolation and audit. */
@ParameterizedClass(name = "on {0}")
@ArgumentsSource(EachDatabase.class)
class BindingRoutesTest {
    private static final AtomicInteger N = new AtomicInteger();

    @Parameter
    TestDatabase database;
    @TempDir
    static Path temp;
    static FakeGitHub github;
    static TestServer server;
    static String readKey;
    static String writeKey;

    @BeforeParameterizedClassInvocation
    static void start(TestDatabase database) {
        github = FakeGitHub.start();
        server = Hooks.start(database, temp.resolve(database.toString()), github);
        readKey = server.createKey("reader", "read");
        writeKey = server.createKey("writer", "write");
    }

    @AfterParameterizedClassInvocation
    static void stop() {
        server.close();
        github.close();
    }

    private static String project() {
        String name = "bind-" + N.incrementAndGet();
        assertThat(server.post("/agent_projects", server.adminKey(), "{\"name\":\"" + name + "\"}").status())
                .isEqualTo(201);
        return name;
    }

    private static TestServer.Response put(String project, String key, String body) {
        return bind(server, key, project, body);
    }

    @Test
    void binding_answers_the_repo_the_webhook_url_and_a_secret_shown_once() {
        String project = project();

        TestServer.Response bound = put(project, writeKey, "{\"url\":\"git@github.com:acme/shop-agent.git\"}");

        assertThat(bound.status()).as(bound.body()).isEqualTo(200);
        JsonNode body = bound.json();
        assertThat(body.get("project").asText()).isEqualTo(project);
        assertThat(body.at("/repo/url").asText()).isEqualTo("https://github.com/acme/shop-agent");
        assertThat(body.at("/repo/branch").asText()).isEqualTo("main");
        assertThat(body.get("source").asText()).isEqualTo("github");
        assertThat(body.get("webhook_url").asText()).isEqualTo("http://127.0.0.1:" + server.port() + "/webhooks/github");
        assertThat(body.get("webhook_secret").asText()).matches("[0-9a-f]{64}");

        TestServer.Response shown = server.get("/agent_projects/" + project + "/repo", readKey);
        assertThat(shown.status()).isEqualTo(200);
        assertThat(shown.json().has("webhook_secret")).isFalse();
        assertThat(shown.body()).doesNotContain(body.get("webhook_secret").asText());
        assertThat(shown.json().at("/repo/url").asText()).isEqualTo("https://github.com/acme/shop-agent");
        assertThat(shown.json().get("webhook_url").asText()).endsWith("/webhooks/github");
        JsonNode projectJson = server.get("/agent_projects/" + project, readKey).json();
        assertThat(projectJson.at("/repo/url").asText()).isEqualTo("https://github.com/acme/shop-agent");
        assertThat(projectJson.at("/repo/branch").asText()).isEqualTo("main");
    }

    @ParameterizedTest
    @ValueSource(strings = {"https://github.com/acme/shop-agent", "https://github.com/acme/shop-agent.git",
            "git@github.com:acme/shop-agent.git", "acme/shop-agent"})
    void every_github_form_is_stored_as_the_canonical_url(String url) {
        TestServer.Response bound = put(project(), writeKey, "{\"url\":\"" + url + "\",\"branch\":\"release/v2\"}");

        assertThat(bound.status()).as(bound.body()).isEqualTo(200);
        assertThat(bound.json().at("/repo/url").asText()).isEqualTo("https://github.com/acme/shop-agent");
        assertThat(bound.json().at("/repo/branch").asText()).isEqualTo("release/v2");
    }

    @Test
    void a_git_url_is_kept_and_marked_as_fetched_with_git() {
        TestServer.Response bound = put(project(), writeKey, "{\"url\":\"https://git.example.com/team/app.git\"}");

        assertThat(bound.status()).as(bound.body()).isEqualTo(200);
        assertThat(bound.json().at("/repo/url").asText()).isEqualTo("https://git.example.com/team/app.git");
        assertThat(bound.json().get("source").asText()).isEqualTo("git");
    }

    @ParameterizedTest
    @ValueSource(strings = {"{}", "{\"url\":null}", "{\"url\":\"\"}", "{\"url\":\"ftp://example.com/x.git\"}",
            "{\"url\":\"https://github.com/acme\"}", "{\"url\":42}", "[]", "{\"url\":\"acme/app\",\"branch\":\"a..b\"}",
            "{\"url\":\"acme/app\",\"branch\":\"has space\"}", "{\"url\":\"acme/app\",\"branch\":\"-x\"}",
            "{\"url\":\"acme/app\",\"branch\":\"\"}", "{\"url\":\"acme/app\",\"branch\":\"x.lock\"}",
            "{\"url\":\"acme/app\",\"branch\":7}"})
    void an_invalid_url_or_branch_is_400_and_binds_nothing(String body) {
        String project = project();

        TestServer.Response refused = put(project, writeKey, body);

        assertThat(refused.status()).as(refused.body()).isEqualTo(400);
        assertThat(refused.json().get("message").asText()).isNotBlank();
        assertThat(server.get("/agent_projects/" + project + "/repo", readKey).status()).isEqualTo(404);
    }

    @Test
    void an_invalid_url_answer_gives_examples() {
        TestServer.Response refused = put(project(), writeKey, "{\"url\":\"not a url\"}");

        assertThat(refused.json().get("error").asText()).isEqualTo("invalid_repo_url");
        assertThat(refused.json().get("message").asText()).contains("https://github.com/OWNER/REPO",
                "git@github.com:OWNER/REPO.git", "OWNER/REPO", "ssh://");
    }

    @Test
    void credentials_in_a_url_are_never_echoed_or_logged() {
        String project = project();
        String password = "hunter2-" + N.incrementAndGet();

        TestServer.Response bound = put(project, writeKey,
                "{\"url\":\"https://deploy:" + password + "@git.example.com/team/app.git\"}");

        assertThat(bound.status()).as(bound.body()).isEqualTo(200);
        assertThat(bound.json().at("/repo/url").asText()).isEqualTo("https://git.example.com/team/app.git");
        List<String> everything = new java.util.ArrayList<>(List.of(bound.body(),
                server.get("/agent_projects/" + project + "/repo", readKey).body(),
                server.get("/agent_projects/" + project, readKey).body(),
                server.get("/audit_events", server.adminKey()).body()));
        everything.addAll(Hooks.projectLog(server, project));
        assertThat(everything).allSatisfy(text -> assertThat(text).doesNotContain(password).doesNotContain("deploy:"));
    }

    @Test
    void an_unbound_project_answers_404_not_bound_and_an_unknown_one_404() {
        String project = project();

        TestServer.Response unbound = server.get("/agent_projects/" + project + "/repo", readKey);
        TestServer.Response unknown = server.get("/agent_projects/no-such-project/repo", readKey);

        assertThat(unbound.status()).isEqualTo(404);
        assertThat(unbound.json().get("error").asText()).isEqualTo("not_bound");
        assertThat(unbound.json().get("message").asText()).contains("karta repo bind " + project);
        assertThat(unknown.status()).isEqualTo(404);
        assertThat(put("no-such-project", writeKey, "{\"url\":\"acme/x\"}").status()).isEqualTo(404);
        assertThat(server.post("/agent_projects/" + project + "/repo/rotate-secret", writeKey, "").status())
                .isEqualTo(404);
        assertThat(server.delete("/agent_projects/" + project + "/repo", writeKey).status()).isEqualTo(404);
    }

    @Test
    void unbinding_removes_the_binding() {
        String project = project();
        put(project, writeKey, "{\"url\":\"acme/app\"}");

        TestServer.Response removed = server.delete("/agent_projects/" + project + "/repo", writeKey);

        assertThat(removed.status()).isEqualTo(204);
        assertThat(server.get("/agent_projects/" + project + "/repo", readKey).status()).isEqualTo(404);
        assertThat(server.get("/agent_projects/" + project, readKey).json().get("repo").isNull()).isTrue();
        assertThat(server.delete("/agent_projects/" + project + "/repo", writeKey).status()).isEqualTo(404);
    }

    @Test
    void rebinding_replaces_the_repository_and_issues_a_new_secret() {
        String project = project();
        String firstSecret = put(project, writeKey, "{\"url\":\"acme/app\"}").json().get("webhook_secret").asText();

        TestServer.Response again = put(project, writeKey, "{\"url\":\"acme/other\",\"branch\":\"prod\"}");

        assertThat(again.status()).isEqualTo(200);
        assertThat(again.json().get("webhook_secret").asText()).isNotEqualTo(firstSecret);
        assertThat(server.get("/agent_projects/" + project + "/repo", readKey).json().get("repo").toString())
                .isEqualTo("{\"url\":\"https://github.com/acme/other\",\"branch\":\"prod\"}");
    }

    @Test
    void rotate_secret_issues_a_new_secret_and_keeps_the_binding() {
        String project = project();
        String before = put(project, writeKey, "{\"url\":\"acme/app\"}").json().get("webhook_secret").asText();

        TestServer.Response rotated = server.post("/agent_projects/" + project + "/repo/rotate-secret", writeKey, "");

        assertThat(rotated.status()).as(rotated.body()).isEqualTo(200);
        assertThat(rotated.json().get("webhook_secret").asText()).matches("[0-9a-f]{64}").isNotEqualTo(before);
        assertThat(rotated.json().at("/repo/url").asText()).isEqualTo("https://github.com/acme/app");
    }

    @Test
    void a_read_key_can_show_but_not_bind_unbind_or_rotate_and_no_key_is_401() {
        String project = project();
        put(project, writeKey, "{\"url\":\"acme/app\"}");

        assertThat(server.get("/agent_projects/" + project + "/repo", readKey).status()).isEqualTo(200);
        assertThat(put(project, readKey, "{\"url\":\"acme/evil\"}").status()).isEqualTo(403);
        assertThat(server.delete("/agent_projects/" + project + "/repo", readKey).status()).isEqualTo(403);
        assertThat(server.post("/agent_projects/" + project + "/repo/rotate-secret", readKey, "").status())
                .isEqualTo(403);
        assertThat(server.get("/agent_projects/" + project + "/repo", null).status()).isEqualTo(401);
        assertThat(put(project, null, "{\"url\":\"acme/evil\"}").status()).isEqualTo(401);
        assertThat(server.get("/agent_projects/" + project + "/repo", readKey).json().at("/repo/url").asText())
                .isEqualTo("https://github.com/acme/app");
    }

    @Test
    void another_orgs_project_is_404_on_every_repo_route() {
        String project = project();
        put(project, writeKey, "{\"url\":\"acme/app\"}");
        String otherAdmin = server.createOrg("other-org-" + N.incrementAndGet());

        assertThat(server.get("/agent_projects/" + project + "/repo", otherAdmin).status()).isEqualTo(404);
        assertThat(put(project, otherAdmin, "{\"url\":\"evil/app\"}").status()).isEqualTo(404);
        assertThat(server.post("/agent_projects/" + project + "/repo/rotate-secret", otherAdmin, "").status())
                .isEqualTo(404);
        assertThat(server.delete("/agent_projects/" + project + "/repo", otherAdmin).status()).isEqualTo(404);
        assertThat(server.get("/agent_projects/" + project + "/repo", readKey).json().at("/repo/url").asText())
                .isEqualTo("https://github.com/acme/app");
    }

    @Test
    void bind_rotate_and_unbind_are_audited_with_the_key() {
        String project = project();
        put(project, writeKey, "{\"url\":\"acme/app\"}");
        server.post("/agent_projects/" + project + "/repo/rotate-secret", writeKey, "");
        server.delete("/agent_projects/" + project + "/repo", writeKey);
        String writerId = server.get("/whoami", writeKey).json().at("/key/id").asText();

        JsonNode events = server.get("/audit_events", server.adminKey()).json().get("events");

        for (String action : List.of("repo.bind", "repo.rotate_secret", "repo.unbind")) {
            assertThat(events).as(action).anySatisfy(e -> {
                assertThat(e.get("action").asText()).isEqualTo(action);
                assertThat(e.get("resource").asText()).isEqualTo("project:" + project);
                assertThat(e.get("actor_key_id").asText()).isEqualTo(writerId);
            });
        }
    }

    @Test
    void a_retried_bind_with_the_same_idempotency_key_answers_the_same_secret() {
        String project = project();
        HttpRequest.Builder first = server.request("/agent_projects/" + project + "/repo", writeKey)
                .header("Content-Type", "application/json").header("Idempotency-Key", "bind-once")
                .PUT(HttpRequest.BodyPublishers.ofString("{\"url\":\"acme/app\"}"));
        HttpRequest.Builder retry = server.request("/agent_projects/" + project + "/repo", writeKey)
                .header("Content-Type", "application/json").header("Idempotency-Key", "bind-once")
                .PUT(HttpRequest.BodyPublishers.ofString("{\"url\":\"acme/app\"}"));

        TestServer.Response a = server.send(first);
        TestServer.Response b = server.send(retry);

        assertThat(b.header("Idempotent-Replayed")).isEqualTo("true");
        assertThat(b.json().get("webhook_secret").asText()).isEqualTo(a.json().get("webhook_secret").asText());
        assertThat(server.get("/audit_events", server.adminKey()).json().get("events"))
                .filteredOn(e -> e.get("action").asText().equals("repo.bind")
                        && e.get("resource").asText().equals("project:" + project)).hasSize(1);
    }

    @Test
    void a_retried_unbind_with_the_same_idempotency_key_answers_the_same_and_unbinds_once() {
        String project = project();
        assertThat(put(project, writeKey, "{\"url\":\"acme/app\"}").status()).isEqualTo(200);

        TestServer.Response first = server.send(server.request("/agent_projects/" + project + "/repo", writeKey)
                .header("Idempotency-Key", "unbind-once").DELETE());
        TestServer.Response retry = server.send(server.request("/agent_projects/" + project + "/repo", writeKey)
                .header("Idempotency-Key", "unbind-once").DELETE());

        assertThat(first.status()).isEqualTo(204);
        assertThat(retry.status()).as(retry.body()).isEqualTo(204);
        assertThat(retry.header("Idempotent-Replayed")).isEqualTo("true");
        assertThat(server.get("/audit_events", server.adminKey()).json().get("events"))
                .filteredOn(e -> e.get("action").asText().equals("repo.unbind")
                        && e.get("resource").asText().equals("project:" + project)).hasSize(1);
    }

    @Test
    void deleting_a_bound_project_removes_its_binding() {
        String project = project();
        put(project, writeKey, "{\"url\":\"acme/app\"}");

        assertThat(server.delete("/agent_projects/" + project, server.adminKey()).status()).isEqualTo(204);

        try (var db = server.openDatabase()) {
            long bindings = db.withHandle(h -> h.createQuery("SELECT COUNT(*) FROM repo_bindings b JOIN projects p "
                    + "ON p.id = b.project_id WHERE p.name = :n").bind("n", project).mapTo(Long.class).one());
            assertThat(bindings).isZero();
        }
        assertThat(server.post("/agent_projects", server.adminKey(), "{\"name\":\"" + project + "\"}").status())
                .isEqualTo(201);
        assertThat(server.get("/agent_projects/" + project + "/repo", readKey).status()).isEqualTo(404);
    }

    @Test
    void the_stored_answer_of_an_idempotent_bind_holds_no_plaintext_secret() {
        String project = project();
        HttpRequest.Builder bind = server.request("/agent_projects/" + project + "/repo", writeKey)
                .header("Content-Type", "application/json").header("Idempotency-Key", "bind-sealed-" + project)
                .PUT(HttpRequest.BodyPublishers.ofString("{\"url\":\"acme/app\"}"));
        String secret = server.send(bind).json().get("webhook_secret").asText();

        try (var db = server.openDatabase()) {
            java.util.List<String> stored = db.withHandle(h -> h.createQuery("SELECT body FROM idempotency_keys "
                    + "WHERE idem_key = :k").bind("k", "bind-sealed-" + project).mapTo(String.class).list());
            assertThat(stored).hasSize(1);
            assertThat(stored.get(0)).isNotNull().doesNotContain(secret).doesNotContain("webhook_secret");
        }
        assertThat(server.send(bind).json().get("webhook_secret").asText()).as("a retry still gets the secret")
                .isEqualTo(secret);
    }
}
