package dev.karta.server.keys;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import dev.karta.server.store.Database;
import dev.karta.server.testkit.EachDatabase;
import dev.karta.server.testkit.GitRunner;
import dev.karta.server.testkit.TarBuilder;
import dev.karta.server.testkit.TestDatabase;
import dev.karta.server.testkit.TestServer;
import dev.karta.server.testkit.TestServer.Response;
import java.io.BufferedReader;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.AfterParameterizedClassInvocation;
import org.junit.jupiter.params.BeforeParameterizedClassInvocation;
import org.junit.jupiter.params.Parameter;
import org.junit.jupiter.params.ParameterizedClass;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.ArgumentsSource;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Project-restricted keys through every door: the control plane, sessions, logs and git answer
 * 404 for every project but the key's own (as for a project of another org), org-wide routes and
 * creating another project answer 403, and deleting the project revokes the key.
 */
@ParameterizedClass(name = "on {0}")
@ArgumentsSource(EachDatabase.class)
class ProjectKeysTest {
    private static final AtomicInteger N = new AtomicInteger();
    private static final String RESTRICTED = "this key is restricted to project shop";

    @Parameter
    TestDatabase database;

    @TempDir
    static Path temp;
    static TestServer server;
    static GitRunner git;
    /** Keys restricted to project shop. */
    static String shopAdmin;
    static String shopWriter;
    static String shopReader;
    static String shopAdminId;
    /** The admin key of another org, for comparing answers. */
    static String strangerAdmin;
    /** A deploy and a session of project other, whose ids a shop key must not reach either. */
    static String otherDeploy;
    static String otherSession;

    @TempDir
    Path work;

    @BeforeParameterizedClassInvocation
    static void start(TestDatabase database) {
        server = database.startUnder(temp);
        git = new GitRunner(temp.resolve("home-" + N.incrementAndGet())).with("GIT_ASKPASS", "/bin/false");
        publish("shop", server.adminKey());
        otherDeploy = publish("other", server.adminKey());
        Response session = server.post("/v1/projects/other/sessions", server.adminKey(), "{}");
        assertThat(session.status()).as(session.body()).isEqualTo(201);
        otherSession = session.json().get("id").asText();
        JsonNode admin = createKey("shop-admin", "admin", "shop").json();
        shopAdmin = admin.get("secret").asText();
        shopAdminId = admin.at("/api_key/id").asText();
        shopWriter = createKey("shop-writer", "write", "shop").json().get("secret").asText();
        shopReader = createKey("shop-reader", "read", "shop").json().get("secret").asText();
        strangerAdmin = server.createOrg("stranger");
    }

    @AfterParameterizedClassInvocation
    static void stop() {
        server.close();
    }

    private static Response createKey(String name, String scope, String project) {
        Response created = server.post("/api_keys", server.adminKey(), "{\"name\":\"" + name + "\",\"scopes\":[\""
                + scope + "\"],\"project\":\"" + project + "\"}");
        assertThat(created.status()).as(created.body()).isEqualTo(201);
        return created;
    }

    private static Response upload(String project, String key) {
        return server.send(server.request("/agent_projects/" + project + "/releases", key)
                .header("Content-Type", "application/gzip")
                .POST(HttpRequest.BodyPublishers.ofByteArray(TarBuilder.files(Map.of("CLAUDE.md", "# app\n")))));
    }

    /** Publishes an app and waits for its release to be active; returns the deploy's id. */
    private static String publish(String project, String key) {
        Response accepted = upload(project, key);
        assertThat(accepted.status()).as(accepted.body()).isEqualTo(202);
        String deploy = accepted.json().get("id").asText();
        await().atMost(Duration.ofSeconds(60)).pollInterval(Duration.ofMillis(50)).until(() -> server
                .get("/agent_projects/" + project + "/deploys/" + deploy, server.adminKey()).json()
                .get("status").asText().equals("succeeded"));
        return deploy;
    }

    private static Response call(String method, String path, String key, String body) {
        HttpRequest.Builder request = server.request(path, key);
        if (body != null) {
            request.header("Content-Type", "application/json");
        }
        return server.send(request.method(method, body == null
                ? HttpRequest.BodyPublishers.noBody() : HttpRequest.BodyPublishers.ofString(body)));
    }

    /** Every route that names a project, for project {@code p}: method, path, body. */
    static List<List<String>> projectRoutes(String p) {
        List<List<String>> routes = new ArrayList<>();
        routes.add(List.of("GET", "/agent_projects/" + p));
        routes.add(List.of("GET", "/agent_projects/" + p + "/releases"));
        routes.add(List.of("GET", "/agent_projects/" + p + "/releases/v1"));
        routes.add(List.of("POST", "/agent_projects/" + p + "/rollback", "{\"to\":\"v1\"}"));
        routes.add(List.of("POST", "/agent_projects/" + p + "/deploys", "{\"commit_sha\":\"" + "a".repeat(40) + "\"}"));
        routes.add(List.of("GET", "/agent_projects/" + p + "/deploys"));
        routes.add(List.of("GET", "/agent_projects/" + p + "/deploys/" + otherDeploy));
        routes.add(List.of("GET", "/agent_projects/" + p + "/deploys/" + otherDeploy + "/logs"));
        routes.add(List.of("GET", "/agent_projects/" + p + "/logs"));
        routes.add(List.of("GET", "/agent_projects/" + p + "/logs?tail=true"));
        routes.add(List.of("PUT", "/agent_projects/" + p + "/repo", "{\"url\":\"https://github.com/acme/shop\"}"));
        routes.add(List.of("GET", "/agent_projects/" + p + "/repo"));
        routes.add(List.of("DELETE", "/agent_projects/" + p + "/repo"));
        routes.add(List.of("POST", "/agent_projects/" + p + "/repo/rotate-secret", "{}"));
        routes.add(List.of("GET", "/agent_projects/" + p + "/usage"));
        routes.add(List.of("POST", "/v1/projects/" + p + "/sessions", "{}"));
        routes.add(List.of("GET", "/v1/projects/" + p + "/sessions"));
        routes.add(List.of("GET", "/v1/projects/" + p + "/sessions/" + otherSession));
        routes.add(List.of("POST", "/v1/projects/" + p + "/sessions/" + otherSession + "/messages", "{\"text\":\"hi\"}"));
        routes.add(List.of("DELETE", "/v1/projects/" + p + "/sessions/" + otherSession));
        routes.add(List.of("GET", "/agent_projects/" + p + "/releases/v1/diff/v1"));
        routes.add(List.of("POST", "/agent_projects/" + p + "/releases/v1/activate", "{}"));
        routes.add(List.of("DELETE", "/agent_projects/" + p + "/pin"));
        routes.add(List.of("GET", "/agent_projects/" + p + "/config"));
        routes.add(List.of("PATCH", "/agent_projects/" + p + "/config", "{\"set\":{\"A\":\"1\"}}"));
        routes.add(List.of("GET", "/agent_projects/" + p + "/previews"));
        routes.add(List.of("POST", "/agent_projects/" + p + "/previews",
                "{\"name\":\"pr-1\",\"commit_sha\":\"" + "a".repeat(40) + "\"}"));
        routes.add(List.of("GET", "/agent_projects/" + p + "/previews/pr-1"));
        routes.add(List.of("POST", "/agent_projects/" + p + "/previews/pr-1/promote", "{}"));
        routes.add(List.of("DELETE", "/agent_projects/" + p + "/previews/pr-1"));
        routes.add(List.of("POST", "/v1/projects/" + p + "/previews/pr-1/sessions", "{}"));
        routes.add(List.of("GET", "/v1/projects/" + p + "/previews/pr-1/sessions"));
        routes.add(List.of("GET", "/v1/projects/" + p + "/previews/pr-1/sessions/" + otherSession));
        routes.add(List.of("POST", "/v1/projects/" + p + "/previews/pr-1/sessions/" + otherSession + "/messages",
                "{\"text\":\"hi\"}"));
        routes.add(List.of("DELETE", "/v1/projects/" + p + "/previews/pr-1/sessions/" + otherSession));
        routes.add(List.of("GET", "/agent_projects/" + p + "/ci_trusts"));
        routes.add(List.of("POST", "/agent_projects/" + p + "/ci_trusts",
                "{\"provider\":\"github\",\"repository\":\"acme/shop\",\"ref\":\"refs/heads/main\"}"));
        routes.add(List.of("DELETE", "/agent_projects/" + p + "/ci_trusts/cit_0"));
        routes.add(List.of("DELETE", "/agent_projects/" + p));
        return routes;
    }

    static Stream<Arguments> anotherProjectsRoutes() {
        return Stream.of("other", "nope").flatMap(p -> projectRoutes(p).stream()).map(r -> Arguments.of(r.get(0),
                r.get(1), r.size() > 2 ? r.get(2) : null));
    }

    @ParameterizedTest(name = "{0} {1}")
    @MethodSource("anotherProjectsRoutes")
    @Timeout(30) // a stream route that wrongly answered 200 would never end
    void every_route_naming_another_project_answers_404_as_for_another_orgs_project(String method, String path,
                                                                                     String body) {
        Response restricted = call(method, path, shopAdmin, body);
        Response stranger = call(method, path, strangerAdmin, body);

        assertThat(restricted.status()).as(restricted.body()).isEqualTo(404);
        assertThat(restricted.body()).isEqualTo(stranger.body());
        assertThat(server.get("/agent_projects/other", server.adminKey()).status()).isEqualTo(200);
        assertThat(server.get("/v1/projects/other/sessions/" + otherSession, server.adminKey()).json()
                .get("status").asText()).isNotEqualTo("ended");
    }

    @Test
    void the_project_list_holds_only_its_project() {
        JsonNode projects = server.get("/agent_projects", shopReader).json().get("projects");

        assertThat(projects).hasSize(1);
        assertThat(projects.get(0).get("name").asText()).isEqualTo("shop");
        assertThat(server.get("/agent_projects", server.adminKey()).json().get("projects")).hasSize(2);
    }

    @Test
    void its_own_project_works_on_every_door() {
        assertThat(server.get("/agent_projects/shop", shopReader).status()).isEqualTo(200);
        assertThat(server.get("/agent_projects/shop/releases/v1", shopReader).status()).isEqualTo(200);
        assertThat(server.get("/agent_projects/shop/deploys", shopReader).status()).isEqualTo(200);
        assertThat(server.get("/agent_projects/shop/logs", shopReader).status()).isEqualTo(200);
        assertThat(server.get("/agent_projects/shop/usage", shopReader).status()).isEqualTo(200);
        Response session = server.post("/v1/projects/shop/sessions", shopWriter, "{}");
        assertThat(session.status()).as(session.body()).isEqualTo(201);
        assertThat(server.get("/v1/projects/shop/sessions/" + session.json().get("id").asText(), shopReader).status())
                .isEqualTo(200);
        assertThat(upload("shop", shopWriter).status()).isEqualTo(202);
        assertThat(server.post("/agent_projects/shop/rollback", shopAdmin, "{\"to\":\"v1\"}").status()).isEqualTo(200);
    }

    @Test
    @Timeout(30)
    void its_own_log_streams_live() throws Exception {
        HttpRequest request = server.request("/agent_projects/shop/logs", shopReader)
                .header("Accept", "text/event-stream").GET().build();
        HttpResponse<InputStream> response = HttpClient.newHttpClient().send(request,
                HttpResponse.BodyHandlers.ofInputStream());

        assertThat(response.statusCode()).isEqualTo(200);
        try (BufferedReader lines = new BufferedReader(new InputStreamReader(response.body(), StandardCharsets.UTF_8))) {
            String line;
            do {
                line = lines.readLine();
            } while (line != null && !line.startsWith("data:"));
            assertThat(line).as("an entry of the project's log").isNotNull();
        }
    }

    @Test
    void org_wide_routes_answer_403() {
        for (List<String> route : List.of(
                List.of("GET", "/api_keys"),
                List.of("POST", "/api_keys", "{\"name\":\"wider\",\"scopes\":[\"read\"]}"),
                List.of("POST", "/api_keys", "{\"name\":\"same\",\"scopes\":[\"read\"],\"project\":\"shop\"}"),
                List.of("DELETE", "/api_keys/" + shopAdminId),
                List.of("GET", "/audit_events"),
                List.of("GET", "/audit_events/verify"),
                List.of("GET", "/audit_events/export"),
                List.of("GET", "/webhook_endpoints"),
                List.of("POST", "/webhook_endpoints", "{\"url\":\"https://example.com/hooks\",\"events\":[\"*\"]}"))) {
            Response answer = call(route.get(0), route.get(1), shopAdmin, route.size() > 2 ? route.get(2) : null);

            assertThat(answer.status()).as(route + ": " + answer.body()).isEqualTo(403);
            assertThat(answer.json().get("message").asText()).contains(RESTRICTED);
        }
        assertThat(server.get("/whoami", shopAdmin).status()).as("not revoked by its own request").isEqualTo(200);
    }

    @Test
    void creating_another_project_is_403_and_creates_nothing() {
        Response created = server.post("/agent_projects", shopWriter, "{\"name\":\"sideline\"}");
        Response published = upload("sideline", shopWriter);

        assertThat(created.status()).isEqualTo(403);
        assertThat(created.json().get("message").asText()).isEqualTo(RESTRICTED + ": it cannot create project sideline");
        assertThat(published.status()).isEqualTo(404);
        assertThat(server.get("/agent_projects/sideline", server.adminKey()).status()).isEqualTo(404);
        assertThat(server.post("/agent_projects", shopWriter, "{\"name\":\"shop\"}").status()).isEqualTo(409);
    }

    @Test
    void whoami_and_the_key_listing_show_the_restriction() {
        JsonNode me = server.get("/whoami", shopReader).json().get("key");

        assertThat(me.get("project").asText()).isEqualTo("shop");
        assertThat(server.get("/whoami", server.adminKey()).json().at("/key/project").isNull()).isTrue();
        JsonNode listed = null;
        for (JsonNode key : server.get("/api_keys", server.adminKey()).json().get("api_keys")) {
            if (key.get("id").asText().equals(shopAdminId)) {
                listed = key;
            }
        }
        assertThat(listed).isNotNull();
        assertThat(listed.get("project").asText()).isEqualTo("shop");
    }

    @Test
    void a_key_cannot_be_restricted_to_an_unknown_or_foreign_project() {
        server.post("/agent_projects", strangerAdmin, "{\"name\":\"foreign\"}");

        Response unknown = server.post("/api_keys", server.adminKey(),
                "{\"name\":\"x\",\"scopes\":[\"read\"],\"project\":\"nowhere\"}");
        Response foreign = server.post("/api_keys", server.adminKey(),
                "{\"name\":\"x\",\"scopes\":[\"read\"],\"project\":\"foreign\"}");
        Response malformed = server.post("/api_keys", server.adminKey(),
                "{\"name\":\"x\",\"scopes\":[\"read\"],\"project\":\"Not A Name\"}");

        assertThat(unknown.status()).isEqualTo(404);
        assertThat(unknown.json().get("message").asText()).isEqualTo("project 'nowhere' not found");
        assertThat(foreign.status()).isEqualTo(404);
        assertThat(malformed.status()).isEqualTo(400);
    }

    @Test
    void git_clones_and_pushes_its_own_project_only() {
        git.run(work, "clone", "-q", remote("shop", shopReader), "mine").ok();
        GitRunner.Run foreign = git.run(work, "clone", "-q", remote("other", shopReader), "theirs").failed();
        assertThat(foreign.err()).contains("project 'other' not found");

        Path app = git.newApp(work.resolve("app"));
        git.run(app, "push", remote("shop", shopWriter), "main:side").ok();
        GitRunner.Run pushOther = git.run(app, "push", remote("other", shopWriter), "main:side").failed();
        GitRunner.Run pushNew = git.run(app, "push", remote("brand-new", shopWriter), "main").failed();

        assertThat(pushOther.err()).contains("project 'other' not found");
        assertThat(pushNew.err()).contains("project 'brand-new' not found");
        assertThat(server.get("/agent_projects/brand-new", server.adminKey()).status()).isEqualTo(404);
        assertThat(git.run(work, "ls-remote", remote("other", server.adminKey())).ok().out()).doesNotContain("side");
        assertThat(git.run(work, "ls-remote", remote("shop", server.adminKey())).ok().out()).contains("refs/heads/side");
    }

    @Test
    void deleting_the_project_revokes_its_keys_for_good() throws Exception {
        publish("doomed", server.adminKey());
        Response created = createKey("doomed-key", "admin", "doomed");
        String secret = created.json().get("secret").asText();
        String id = created.json().at("/api_key/id").asText();
        assertThat(server.get("/whoami", secret).status()).isEqualTo(200); // cached from here on

        assertThat(server.delete("/agent_projects/doomed", server.adminKey()).status()).isEqualTo(204);
        Response after = server.get("/whoami", secret);
        server.post("/agent_projects", server.adminKey(), "{\"name\":\"doomed\"}");

        assertThat(after.status()).isEqualTo(401);
        assertThat(after.json().get("message").asText()).contains("revoked");
        assertThat(server.get("/agent_projects/doomed", secret).status()).isEqualTo(401);
        JsonNode events = server.get("/audit_events", server.adminKey()).json().get("events");
        assertThat(events.toString()).contains("api_key:" + id);
        for (JsonNode key : server.get("/api_keys", server.adminKey()).json().get("api_keys")) {
            if (key.get("id").asText().equals(id)) {
                assertThat(key.get("project").asText()).as("still listed with its project").isEqualTo("doomed");
                assertThat(key.get("revoked_at").isNull()).isFalse();
            }
        }
        try (Database db = server.openDatabase()) {
            String projectId = db.withHandle(h -> h.createQuery("SELECT project_id FROM api_keys WHERE id = :id")
                    .bind("id", id).mapTo(String.class).one());
            assertThat(projectId).as("never widened to the whole org").isNotNull();
        }
    }

    @Test
    void a_key_whose_project_is_gone_can_do_nothing() {
        Response created = createKey("orphan", "read", "shop");
        String secret = created.json().get("secret").asText();
        String id = created.json().at("/api_key/id").asText();
        try (Database db = server.openDatabase()) {
            db.execute("UPDATE api_keys SET project_id = 'prj_gone' WHERE id = ?", id);
        }

        Response refused = server.get("/agent_projects", secret);

        assertThat(refused.status()).isEqualTo(401);
        assertThat(refused.json().get("message").asText()).contains("restricted to project shop, which has been deleted");
    }

    private static String remote(String project, String key) {
        return "http://x:" + key + "@127.0.0.1:" + server.port() + "/git/" + project + ".git";
    }
}
