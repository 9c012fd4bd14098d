package dev.karta.server.releases;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import dev.karta.server.Config;
import dev.karta.server.datadir.DataDir;
import dev.karta.server.ingest.webhooks.Hooks;
import dev.karta.server.repos.FakeGitHub;
import dev.karta.server.store.Database;
import dev.karta.server.testkit.EachDatabase;
import dev.karta.server.testkit.GitRunner;
import dev.karta.server.testkit.TarBuilder;
import dev.karta.server.testkit.TestDatabase;
import dev.karta.server.testkit.TestServer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.Parameter;
import org.junit.jupiter.params.ParameterizedClass;
import org.junit.jupiter.params.provider.ArgumentsSource;

/**
 * A rollback pins the project: deploys from every door still build releases, which do not go live
 * until an admin activates one or unpins. Also explicit activation, unpin, dry runs, diffs, and
 * targets whose files are gone.
 */
@ParameterizedClass(name = "on {0}")
@ArgumentsSource(EachDatabase.class)
class PinTest {
    private static final String REPO = "acme/pinned-app";

    @Parameter
    TestDatabase database;
    @TempDir
    Path dir;

    private FakeGitHub github;
    private TestServer server;
    private Publisher publisher;
    private String adminKeyId;

    @BeforeEach
    void start() {
        github = FakeGitHub.start();
        // On PostgreSQL, with every durable byte in the database (git repositories, release trees).
        Config config = database.config(dir.resolve("data")).withRepos(new Config.Repos(github.apiUrl(), null,
                List.of("ssh"), 1L << 20).withAllowed(Set.of("acme"), List.of(github.archiveUrl() + "/")));
        server = TestServer.start(database.isPostgres()
                ? config.toBuilder().storage(Config.Storage.DATABASE).build() : config);
        publisher = new Publisher(server);
        adminKeyId = server.get("/whoami", server.adminKey()).json().get("key").get("id").asText();
    }

    @AfterEach
    void stop() {
        server.close();
        github.close();
    }

    private static List<String> statuses(JsonNode releases) {
        List<String> out = new ArrayList<>();
        releases.forEach(r -> out.add(r.get("version").asText() + ":" + r.get("status").asText()));
        return out;
    }

    private TestServer.Response rollback(String project, String body) {
        return server.post("/agent_projects/" + project + "/rollback", server.adminKey(), body);
    }

    private List<String> buildLog(String project, String deployId) {
        try (Database db = server.openDatabase()) {
            return db.withHandle(h -> h.select("SELECT message FROM log_entries WHERE deploy_id = ? ORDER BY id",
                    deployId).mapTo(String.class).list());
        }
    }

    private long audits(String action) {
        return server.get("/audit_events", server.adminKey()).json().get("events").findValuesAsText("action").stream()
                .filter(action::equals).count();
    }

    private String pinnedLine(String project, String pinned, String built) {
        return project + " is pinned to " + pinned + " (rolled back by " + adminKeyId + "); " + built
                + " is built but not live. Run `karta releases activate " + project + " " + built + "` or `karta unpin "
                + project + "`.";
    }

    private void publishTwoAndRollBack(String project) {
        publisher.publish(project, TarBuilder.app("one"));
        publisher.publish(project, TarBuilder.app("two"));
        TestServer.Response back = rollback(project, "{\"to\":\"v1\"}");
        assertThat(back.status()).as(back.body()).isEqualTo(200);
    }

    @Test
    void rollback_pins_and_an_upload_then_builds_a_release_that_does_not_go_live() {
        publisher.publish("shop", TarBuilder.app("one"));
        publisher.publish("shop", TarBuilder.app("two"));

        TestServer.Response back = rollback("shop", "{\"to\":\"v1\"}");

        assertThat(back.json().get("active").asText()).isEqualTo("v1");
        assertThat(back.json().get("pinned").get("version").asText()).isEqualTo("v1");
        assertThat(back.json().get("pinned").get("by").asText()).isEqualTo(adminKeyId);
        JsonNode pinned = server.get("/agent_projects/shop", server.adminKey()).json().get("pinned");
        assertThat(pinned.get("version").asText()).isEqualTo("v1");
        assertThat(pinned.get("by").asText()).isEqualTo(adminKeyId);
        assertThat(pinned.get("at").asText()).endsWith("Z");

        JsonNode deploy = publisher.publish("shop", TarBuilder.app("three"));

        assertThat(deploy.get("status").asText()).isEqualTo("succeeded");
        assertThat(deploy.get("release").asText()).isEqualTo("v3");
        assertThat(publisher.active("shop")).isEqualTo("v1");
        assertThat(statuses(publisher.releases("shop"))).containsExactly("v3:built", "v2:superseded", "v1:active");
        JsonNode v3 = server.get("/agent_projects/shop/releases/v3", server.adminKey()).json();
        assertThat(v3.get("activated_at").isNull()).isTrue();
        assertThat(v3.get("deactivated_at").isNull()).isTrue();
        assertThat(buildLog("shop", deploy.get("id").asText())).contains(pinnedLine("shop", "v1", "v3"));
        assertThat(server.get("/agent_projects/shop/releases", server.adminKey()).json().get("pinned")
                .get("version").asText()).isEqualTo("v1");
    }

    @Test
    void activation_and_deactivation_times_follow_the_pointer() {
        publisher.publish("shop", TarBuilder.app("one"));
        JsonNode v1Before = server.get("/agent_projects/shop/releases/v1", server.adminKey()).json();
        assertThat(v1Before.get("deactivated_at").isNull()).isTrue();
        publisher.publish("shop", TarBuilder.app("two"));

        JsonNode v1 = server.get("/agent_projects/shop/releases/v1", server.adminKey()).json();
        JsonNode v2 = server.get("/agent_projects/shop/releases/v2", server.adminKey()).json();
        assertThat(v1.get("deactivated_at").asText()).endsWith("Z");
        assertThat(v2.get("activated_at").asText()).endsWith("Z");
        assertThat(v2.get("deactivated_at").isNull()).isTrue();

        rollback("shop", "{\"to\":\"v1\"}");
        v1 = server.get("/agent_projects/shop/releases/v1", server.adminKey()).json();
        v2 = server.get("/agent_projects/shop/releases/v2", server.adminKey()).json();
        assertThat(v1.get("deactivated_at").isNull()).isTrue();
        assertThat(v1.get("activated_at").asText()).isGreaterThan(v1Before.get("activated_at").asText());
        assertThat(v2.get("deactivated_at").asText()).endsWith("Z");
    }

    @Test
    void a_webhook_deploy_of_a_pinned_project_builds_but_does_not_go_live() {
        String secret = Hooks.createAndBind(server, "hooked", "https://github.com/" + REPO, null);
        github.commit(REPO, Hooks.sha(1), "one");
        github.commit(REPO, Hooks.sha(2), "two");
        github.commit(REPO, Hooks.sha(3), "three");
        for (int i = 1; i <= 2; i++) {
            TestServer.Response delivered = Hooks.deliver(server, "push", Hooks.newDelivery(),
                    Hooks.push(REPO, "refs/heads/main", Hooks.sha(i)), secret);
            assertThat(delivered.status()).as(delivered.body()).isEqualTo(202);
            Hooks.awaitDeployEnded(server, "hooked", Hooks.deploys(server, "hooked").get(0).get("id").asText());
        }
        assertThat(rollback("hooked", "{\"to\":\"v1\"}").status()).isEqualTo(200);

        Hooks.deliver(server, "push", Hooks.newDelivery(), Hooks.push(REPO, "refs/heads/main", Hooks.sha(3)), secret);
        String deployId = Hooks.deploys(server, "hooked").get(0).get("id").asText();
        JsonNode ended = Hooks.awaitDeployEnded(server, "hooked", deployId);

        assertThat(ended.get("status").asText()).isEqualTo("succeeded");
        assertThat(ended.get("release").asText()).isEqualTo("v3");
        assertThat(publisher.active("hooked")).isEqualTo("v1");
        assertThat(statuses(publisher.releases("hooked"))).containsExactly("v3:built", "v2:superseded", "v1:active");
        assertThat(Hooks.projectLog(server, "hooked")).contains(pinnedLine("hooked", "v1", "v3"));
    }

    @Test
    void git_push_and_deploy_by_commit_to_a_pinned_project_build_and_say_so_and_the_push_succeeds() throws Exception {
        GitRunner git = new GitRunner(dir.resolve("home")).with("XDG_CONFIG_HOME", dir.resolve("home/.config").toString())
                .with("GIT_ASKPASS", "/bin/false");
        String remote = "http://x:" + server.adminKey() + "@127.0.0.1:" + server.port() + "/git/pushed.git";
        Path app = git.newApp(dir.resolve("app"));
        git.run(app, "push", remote, "main").ok();
        Files.writeString(app.resolve("CLAUDE.md"), "# Second\n");
        git.commitAll(app, "second");
        git.run(app, "push", remote, "main").ok();
        assertThat(rollback("pushed", "{\"to\":\"v1\"}").status()).isEqualTo(200);

        Files.writeString(app.resolve("CLAUDE.md"), "# Third\n");
        String third = git.commitAll(app, "third");
        GitRunner.Run push = git.run(app, "push", remote, "main");

        assertThat(push.exit()).as(push.err()).isZero();
        assertThat(push.err()).contains("remote: " + pinnedLine("pushed", "v1", "v3"))
                .contains("remote: Built v3, not live: pushed is pinned to v1 and still serves v1")
                .doesNotContain("Released v3");
        assertThat(publisher.active("pushed")).isEqualTo("v1");
        assertThat(statuses(publisher.releases("pushed"))).containsExactly("v3:built", "v2:superseded", "v1:active");
        assertThat(git.run(app, "ls-remote", remote, "refs/heads/main").ok().out()).startsWith(third);

        // Deploy by commit: another branch is stored without deploying, then deployed through the API.
        Files.writeString(app.resolve("CLAUDE.md"), "# Fourth\n");
        String fourth = git.commitAll(app, "fourth");
        git.run(app, "push", remote, "HEAD:refs/heads/side").ok();
        TestServer.Response accepted = Hooks.deployCommit(server, "pushed", fourth);
        assertThat(accepted.status()).as(accepted.body()).isEqualTo(202);
        JsonNode ended = Hooks.awaitDeployEnded(server, "pushed", accepted.json().get("deploy_id").asText());

        assertThat(ended.get("status").asText()).isEqualTo("succeeded");
        assertThat(ended.get("release").asText()).isEqualTo("v4");
        assertThat(publisher.active("pushed")).isEqualTo("v1");
        assertThat(buildLog("pushed", ended.get("id").asText())).contains(pinnedLine("pushed", "v1", "v4"));
    }

    @Test
    void activate_makes_a_built_release_live_clears_the_pin_and_is_audited_once_per_idempotency_key() {
        publishTwoAndRollBack("shop");
        publisher.publish("shop", TarBuilder.app("three"));
        long before = audits("release.activate");

        TestServer.Response activated = server.send(server.request("/agent_projects/shop/releases/v3/activate",
                server.adminKey()).header("Idempotency-Key", "activate-once")
                .POST(java.net.http.HttpRequest.BodyPublishers.noBody()));
        TestServer.Response again = server.send(server.request("/agent_projects/shop/releases/v3/activate",
                server.adminKey()).header("Idempotency-Key", "activate-once")
                .POST(java.net.http.HttpRequest.BodyPublishers.noBody()));

        assertThat(activated.status()).as(activated.body()).isEqualTo(200);
        assertThat(activated.json().get("active").asText()).isEqualTo("v3");
        assertThat(activated.json().get("previous").asText()).isEqualTo("v1");
        assertThat(activated.json().get("pinned").isNull()).isTrue();
        assertThat(again.body()).isEqualTo(activated.body());
        assertThat(audits("release.activate")).isEqualTo(before + 1);
        assertThat(server.get("/agent_projects/shop", server.adminKey()).json().get("pinned").isNull()).isTrue();
        assertThat(statuses(publisher.releases("shop"))).containsExactly("v3:active", "v2:superseded", "v1:superseded");
        assertThat(Hooks.projectLog(server, "shop"))
                .contains("Release v3 activated (was v1) by " + adminKeyId + "; pin to v1 cleared");

        // Unpinned again: the next build goes live.
        publisher.publish("shop", TarBuilder.app("four"));
        assertThat(publisher.active("shop")).isEqualTo("v4");
    }

    @Test
    void activate_needs_admin_and_an_existing_release() {
        publisher.publish("shop", TarBuilder.app("one"));
        String writer = server.createKey("writer", "write");

        assertThat(server.post("/agent_projects/shop/releases/v1/activate", writer, "").status()).isEqualTo(403);
        assertThat(server.post("/agent_projects/shop/releases/v9/activate", server.adminKey(), "").status())
                .isEqualTo(404);
        assertThat(server.delete("/agent_projects/shop/pin", writer).status()).isEqualTo(403);
        TestServer.Response same = server.post("/agent_projects/shop/releases/v1/activate", server.adminKey(), "");
        assertThat(same.status()).isEqualTo(200);
        assertThat(same.json().get("previous").asText()).isEqualTo("v1");
    }

    @Test
    void unpin_activates_the_newest_release_when_it_is_newer() {
        publishTwoAndRollBack("shop");
        publisher.publish("shop", TarBuilder.app("three"));

        TestServer.Response unpinned = server.delete("/agent_projects/shop/pin", server.adminKey());

        assertThat(unpinned.status()).as(unpinned.body()).isEqualTo(200);
        assertThat(unpinned.json().get("active").asText()).isEqualTo("v3");
        assertThat(unpinned.json().get("previous").asText()).isEqualTo("v1");
        assertThat(unpinned.json().get("pinned").isNull()).isTrue();
        assertThat(publisher.active("shop")).isEqualTo("v3");
        assertThat(audits("project.unpin")).isEqualTo(1);
        assertThat(Hooks.projectLog(server, "shop"))
                .contains("Unpinned (was pinned to v1) by " + adminKeyId + "; v3 activated: deploys go live again");

        TestServer.Response again = server.delete("/agent_projects/shop/pin", server.adminKey());
        assertThat(again.status()).isEqualTo(200);
        assertThat(again.json().get("active").asText()).isEqualTo("v3");
        assertThat(audits("project.unpin")).as("unpinning an unpinned project changes nothing").isEqualTo(1);
    }

    @Test
    void unpin_with_no_newer_release_keeps_the_active_one() {
        publisher.publish("shop", TarBuilder.app("one"));
        publisher.publish("shop", TarBuilder.app("two"));
        assertThat(rollback("shop", "{\"to\":\"v1\"}").status()).isEqualTo(200);
        // Rolling forward to the newest release pins there; unpinning then has nothing newer to activate.
        assertThat(rollback("shop", "{\"to\":\"v2\"}").json().get("pinned").get("version").asText()).isEqualTo("v2");

        TestServer.Response unpinned = server.delete("/agent_projects/shop/pin", server.adminKey());

        assertThat(unpinned.json().get("active").asText()).isEqualTo("v2");
        assertThat(unpinned.json().get("pinned").isNull()).isTrue();
        publisher.publish("shop", TarBuilder.app("three"));
        assertThat(publisher.active("shop")).isEqualTo("v3");
    }

    @Test
    void rollback_without_pin_lets_the_next_deploy_go_live() {
        publisher.publish("shop", TarBuilder.app("one"));
        publisher.publish("shop", TarBuilder.app("two"));

        TestServer.Response back = rollback("shop", "{\"to\":\"v1\",\"pin\":false}");

        assertThat(back.json().get("active").asText()).isEqualTo("v1");
        assertThat(back.json().get("pinned").isNull()).isTrue();
        assertThat(server.get("/agent_projects/shop", server.adminKey()).json().get("pinned").isNull()).isTrue();
        publisher.publish("shop", TarBuilder.app("three"));
        assertThat(publisher.active("shop")).isEqualTo("v3");
    }

    @Test
    void rollback_without_pin_to_the_pinned_release_clears_the_pin_and_keeps_it_active() {
        publishTwoAndRollBack("shop");

        TestServer.Response cleared = rollback("shop", "{\"to\":\"v1\",\"pin\":false}");

        assertThat(cleared.json().get("active").asText()).isEqualTo("v1");
        assertThat(cleared.json().get("pinned").isNull()).isTrue();
        assertThat(rollback("shop", "{\"to\":\"v1\"}").json().get("pinned").get("version").asText())
                .as("rolling to the active release pins it").isEqualTo("v1");
    }

    @Test
    void a_config_change_on_a_pinned_project_goes_live_with_the_pinned_code_and_the_pin_moves_to_it() {
        publishTwoAndRollBack("shop");

        TestServer.Response changed = server.patch("/agent_projects/shop/config", server.adminKey(),
                "{\"set\":{\"MODE\":\"calm\"}}");

        assertThat(changed.status()).as(changed.body()).isEqualTo(200);
        assertThat(publisher.active("shop")).isEqualTo("v3");
        JsonNode v3 = server.get("/agent_projects/shop/releases/v3", server.adminKey()).json();
        JsonNode v1 = server.get("/agent_projects/shop/releases/v1", server.adminKey()).json();
        assertThat(v3.get("source").asText()).isEqualTo("config");
        assertThat(v3.get("content_digest").asText()).as("the pinned code").isEqualTo(v1.get("content_digest").asText());
        assertThat(server.get("/agent_projects/shop", server.adminKey()).json().get("pinned").get("version").asText())
                .isEqualTo("v3");

        JsonNode deploy = publisher.publish("shop", TarBuilder.app("four"));

        assertThat(deploy.get("release").asText()).isEqualTo("v4");
        assertThat(publisher.active("shop")).as("still pinned").isEqualTo("v3");
        assertThat(buildLog("shop", deploy.get("id").asText())).contains(pinnedLine("shop", "v3", "v4"));
    }

    @Test
    void diff_and_dry_run_name_the_config_vars_that_differ_and_never_their_values() {
        publisher.publish("shop", TarBuilder.app("one"));
        server.patch("/agent_projects/shop/config", server.adminKey(),
                "{\"set\":{\"KEEP\":\"same-value\",\"CHANGE\":\"before-value\",\"DROP\":\"dropped-value\"}}");
        server.patch("/agent_projects/shop/config", server.adminKey(),
                "{\"set\":{\"CHANGE\":\"after-value\",\"ADD\":\"added-value\"},\"unset\":[\"DROP\"]}");

        TestServer.Response diff = server.get("/agent_projects/shop/releases/v2/diff/v3", server.adminKey());
        TestServer.Response dryRun = rollback("shop", "{\"to\":\"v2\",\"dry_run\":true}");

        assertThat(diff.status()).as(diff.body()).isEqualTo(200);
        JsonNode config = diff.json().get("config");
        assertThat(config.get("added").toString()).isEqualTo("[\"ADD\"]");
        assertThat(config.get("changed").toString()).isEqualTo("[\"CHANGE\"]");
        assertThat(config.get("removed").toString()).isEqualTo("[\"DROP\"]");
        assertThat(diff.json().get("files").get("changed_count").asInt()).as("same tree").isZero();
        assertThat(dryRun.json().get("diff").get("config").get("added").toString()).isEqualTo("[\"DROP\"]");
        for (String body : List.of(diff.body(), dryRun.body())) {
            assertThat(body).doesNotContain("-value");
        }
    }

    @Test
    void dry_run_answers_the_diff_and_changes_nothing() {
        publisher.publish("shop", new TarBuilder().file("CLAUDE.md", "# one\n").file("old.md", "gone soon")
                .file("same.md", "same").build());
        publisher.publish("shop", new TarBuilder().file("CLAUDE.md", "# two, longer\n").file("new.md", "fresh")
                .file("same.md", "same").build());
        long audited = server.get("/audit_events", server.adminKey()).json().get("events").size();
        List<String> log = Hooks.projectLog(server, "shop");

        TestServer.Response preview = rollback("shop", "{\"to\":\"v1\",\"dry_run\":true}");

        assertThat(preview.status()).as(preview.body()).isEqualTo(200);
        JsonNode p = preview.json();
        assertThat(p.get("dry_run").asBoolean()).isTrue();
        assertThat(p.get("active").asText()).isEqualTo("v2");
        assertThat(p.get("target").asText()).isEqualTo("v1");
        assertThat(p.get("pin").asBoolean()).isTrue();
        assertThat(p.get("activatable").asBoolean()).isTrue();
        assertThat(p.get("live_sessions_on_active").asLong()).isZero();
        JsonNode files = p.get("diff").get("files");
        assertThat(files.get("added").toString()).isEqualTo("[{\"path\":\"old.md\",\"size_before\":null,\"size\":9}]");
        assertThat(files.get("removed").toString()).isEqualTo("[{\"path\":\"new.md\",\"size_before\":5,\"size\":null}]");
        assertThat(files.get("changed").toString())
                .isEqualTo("[{\"path\":\"CLAUDE.md\",\"size_before\":14,\"size\":6}]");
        assertThat(p.get("diff").get("from").asText()).isEqualTo("v2");
        assertThat(p.get("diff").get("to").asText()).isEqualTo("v1");

        assertThat(publisher.active("shop")).isEqualTo("v2");
        assertThat(server.get("/agent_projects/shop", server.adminKey()).json().get("pinned").isNull()).isTrue();
        assertThat(server.get("/audit_events", server.adminKey()).json().get("events").size()).isEqualTo(audited);
        assertThat(Hooks.projectLog(server, "shop")).isEqualTo(log);
        assertThat(server.post("/agent_projects/shop/rollback", server.createKey("w", "write"),
                "{\"to\":\"v1\",\"dry_run\":true}").status()).as("a dry run needs admin too").isEqualTo(403);
    }

    @Test
    void diff_lists_files_with_sizes_harness_and_build_kind_and_caps_the_listing() {
        TarBuilder first = new TarBuilder().file("CLAUDE.md", "x").file("run.sh", "echo hi");
        for (int i = 0; i < ReleaseDiffs.MAX_LISTED_FILES + 5; i++) {
            first.file("docs/page-" + i + ".md", "page " + i);
        }
        publisher.publish("shop", first.build());
        publisher.publish("shop", new TarBuilder().file(".opencode/agent.md", "agent").file("Dockerfile", "FROM x\n")
                .file("run.sh", "echo hi").build());

        TestServer.Response diff = server.get("/agent_projects/shop/releases/v1/diff/v2", server.adminKey());

        assertThat(diff.status()).as(diff.body()).isEqualTo(200);
        JsonNode d = diff.json();
        assertThat(d.get("harness").toString()).isEqualTo("{\"from\":\"claude\",\"to\":\"opencode\"}");
        assertThat(d.get("build_kind").toString()).isEqualTo("{\"from\":\"file_copy\",\"to\":\"dockerfile\"}");
        JsonNode files = d.get("files");
        assertThat(files.get("available").asBoolean()).isTrue();
        assertThat(files.get("added_count").asInt()).isEqualTo(2);
        assertThat(files.get("removed_count").asInt()).isEqualTo(ReleaseDiffs.MAX_LISTED_FILES + 6);
        assertThat(files.get("removed")).hasSize(ReleaseDiffs.MAX_LISTED_FILES);
        assertThat(files.get("unlisted").asInt()).isEqualTo(6);
        assertThat(files.get("changed_count").asInt()).isZero();
        assertThat(d.get("config").toString()).isEqualTo("{\"added\":[],\"changed\":[],\"removed\":[]}");
        assertThat(d.get("commits").get("available").asBoolean()).isFalse();
        assertThat(d.get("commits").get("note").asText()).contains("is not in shop's repository");

        TestServer.Response same = server.get("/agent_projects/shop/releases/2/diff/v2", server.adminKey());
        assertThat(same.json().get("files").get("changed_count").asInt()).isZero();
        assertThat(same.json().get("harness").isNull()).isTrue();
        assertThat(server.get("/agent_projects/shop/releases/v1/diff/v7", server.adminKey()).status()).isEqualTo(404);
        assertThat(server.get("/agent_projects/shop/releases/v1/diff/latest", server.adminKey()).status())
                .isEqualTo(400);
    }

    @Test
    void diff_of_two_pushed_releases_lists_the_commit_range_both_ways() throws Exception {
        GitRunner git = new GitRunner(dir.resolve("home")).with("XDG_CONFIG_HOME", dir.resolve("home/.config").toString())
                .with("GIT_ASKPASS", "/bin/false");
        String remote = "http://x:" + server.adminKey() + "@127.0.0.1:" + server.port() + "/git/ranged.git";
        Path app = git.newApp(dir.resolve("app"));
        git.run(app, "push", remote, "main").ok();
        Files.writeString(app.resolve("CLAUDE.md"), "# Second\n");
        String second = git.commitAll(app, "Second: a longer prompt");
        Files.writeString(app.resolve("extra.md"), "more");
        String third = git.commitAll(app, "Third: extra notes");
        git.run(app, "push", remote, "main").ok();

        JsonNode forward = server.get("/agent_projects/ranged/releases/v1/diff/v2", server.adminKey()).json();
        JsonNode backward = server.get("/agent_projects/ranged/releases/v2/diff/v1", server.adminKey()).json();

        JsonNode commits = forward.get("commits");
        assertThat(commits.get("available").asBoolean()).isTrue();
        assertThat(commits.get("added_count").asInt()).isEqualTo(2);
        assertThat(commits.get("added").toString()).isEqualTo("[{\"sha\":\"" + third + "\",\"short_sha\":\""
                + third.substring(0, 7) + "\",\"subject\":\"Third: extra notes\"},{\"sha\":\"" + second
                + "\",\"short_sha\":\"" + second.substring(0, 7) + "\",\"subject\":\"Second: a longer prompt\"}]");
        assertThat(commits.get("removed_count").asInt()).isZero();
        assertThat(backward.get("commits").get("removed_count").asInt()).isEqualTo(2);
        assertThat(forward.get("files").get("added").toString())
                .isEqualTo("[{\"path\":\"extra.md\",\"size_before\":null,\"size\":4}]");
        assertThat(forward.get("files").get("changed").get(0).get("path").asText()).isEqualTo("CLAUDE.md");
    }

    @Test
    void a_target_whose_files_are_gone_is_a_409_and_marked_in_the_listing() {
        publisher.publish("shop", TarBuilder.app("one"));
        publisher.publish("shop", TarBuilder.app("two"));
        String digest = server.get("/agent_projects/shop/releases/v1", server.adminKey()).json()
                .get("content_digest").asText();
        removeTree(digest);

        TestServer.Response refused = rollback("shop", "{\"to\":\"v1\"}");
        TestServer.Response activate = server.post("/agent_projects/shop/releases/v1/activate", server.adminKey(), "");
        TestServer.Response preview = rollback("shop", "{\"to\":\"v1\",\"dry_run\":true}");

        String reason = "files missing from storage (tree " + digest + " not found)";
        assertThat(refused.status()).isEqualTo(409);
        assertThat(refused.json().get("message").asText()).isEqualTo("release v1 can no longer be activated: " + reason);
        assertThat(activate.status()).isEqualTo(409);
        assertThat(publisher.active("shop")).isEqualTo("v2");
        assertThat(server.get("/agent_projects/shop", server.adminKey()).json().get("pinned").isNull())
                .as("a refused rollback pins nothing").isTrue();
        assertThat(preview.json().get("activatable").asBoolean()).isFalse();
        assertThat(preview.json().get("unavailable_reason").asText()).isEqualTo(reason);
        assertThat(preview.json().get("diff").get("files").get("available").asBoolean()).isFalse();
        JsonNode releases = publisher.releases("shop");
        assertThat(releases.get(1).get("activatable").asBoolean()).isFalse();
        assertThat(releases.get(1).get("unavailable_reason").asText()).isEqualTo(reason);
        assertThat(releases.get(0).get("activatable").asBoolean()).isTrue();
        assertThat(releases.get(0).get("unavailable_reason").isNull()).isTrue();
    }

    @Test
    void a_pruned_release_is_marked_with_the_reason_and_unpin_refuses_a_newest_release_without_files() {
        publishTwoAndRollBack("shop");
        publisher.publish("shop", TarBuilder.app("three"));
        try (Database db = server.openDatabase()) {
            db.execute("UPDATE releases SET pruned_at = 1 WHERE number = 2");
        }
        removeTree(server.get("/agent_projects/shop/releases/v3", server.adminKey()).json()
                .get("content_digest").asText());

        JsonNode releases = publisher.releases("shop");
        assertThat(releases.get(1).get("unavailable_reason").asText()).isEqualTo("files pruned by --keep-releases");
        TestServer.Response unpin = server.delete("/agent_projects/shop/pin", server.adminKey());
        assertThat(unpin.status()).isEqualTo(409);
        assertThat(unpin.json().get("message").asText()).startsWith("release v3 can no longer be activated: ");
        assertThat(server.get("/agent_projects/shop", server.adminKey()).json().get("pinned").get("version").asText())
                .as("the pin stays when the unpin is refused").isEqualTo("v1");
    }

    @Test
    void a_rollback_racing_a_build_never_leaves_a_pinned_project_off_its_pin() throws Exception {
        publisher.publish("shop", TarBuilder.app("zero"));
        publisher.publish("shop", TarBuilder.app("one"));
        for (int round = 1; round <= 8; round++) {
            TestServer.Response accepted = publisher.upload("shop", TarBuilder.app("round " + round), server.adminKey());
            assertThat(accepted.status()).as(accepted.body()).isEqualTo(202);
            TestServer.Response back = rollback("shop", "{\"to\":\"v1\"}");
            assertThat(back.status()).as(back.body()).isEqualTo(200);
            publisher.awaitEnd("shop", accepted.json().get("id").asText());

            JsonNode project = server.get("/agent_projects/shop", server.adminKey()).json();
            assertThat(project.get("current_release").get("version").asText()).as("round " + round)
                    .isEqualTo(project.get("pinned").get("version").asText()).isEqualTo("v1");
            assertThat(server.delete("/agent_projects/shop/pin", server.adminKey()).status()).isEqualTo(200);
        }
    }

    @Test
    void a_pinned_project_can_be_deleted() {
        publishTwoAndRollBack("shop");

        assertThat(server.delete("/agent_projects/shop", server.adminKey()).status()).isEqualTo(204);
        assertThat(server.get("/agent_projects/shop", server.adminKey()).status()).isEqualTo(404);
    }

    /** Takes a tree out of the storage behind Karta's back, as a lost disk or a wiped blob would. */
    private void removeTree(String digest) {
        if (database.isPostgres()) {
            try (Database db = server.openDatabase()) {
                db.execute("DELETE FROM stored_trees WHERE content_digest = ?", digest);
            }
        } else {
            try {
                dev.karta.server.build.Materializer.deleteRecursively(new DataDir(dir.resolve("data")).tree(digest));
            } catch (java.io.IOException e) {
                throw new java.io.UncheckedIOException(e);
            }
        }
    }
}
