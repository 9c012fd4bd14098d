package dev.karta.server.repos;

import static dev.karta.server.ingest.webhooks.Hooks.awaitDeployEnded;
import static dev.karta.server.ingest.webhooks.Hooks.deployCommit;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import dev.karta.server.Config;
import dev.karta.server.store.Database;
import dev.karta.server.testkit.GitRunner;
import dev.karta.server.testkit.TestServer;
import dev.karta.server.ingest.webhooks.Hooks;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Bound repositories (docs/github.md): any URL that is not a GitHub repository is fetched with git into
 * the project's cache and its commit exported through the materializer. A real bare repository,
 * made and filled with the real {@code git} command, plays the remote; another Karta project's
 * own git endpoint plays a private remote that needs the credentials in the URL.
 */
class GitUrlSourceTest {
    @TempDir
    static Path dir;
    static FakeGitHub github;
    static TestServer server;
    static Path fakeSsh;
    static Path work;
    static Path bare;
    static String first;

    @BeforeAll
    static void start() throws IOException {
        github = FakeGitHub.start();
        // A stand-in for ssh, as git's own tests use: it logs its arguments and runs the remote command here.
        fakeSsh = dir.resolve("bin/fake-ssh");
        Files.createDirectories(fakeSsh.getParent());
        Files.writeString(fakeSsh, "#!/bin/sh\nprintf '%s\\n' \"$*\" >> \"$(dirname \"$0\")/ssh.log\"\n"
                + "while [ \"$#\" -gt 1 ]; do shift; done\nexec sh -c \"$1\"\n");
        Files.setPosixFilePermissions(fakeSsh, PosixFilePermissions.fromString("rwxr-xr-x"));
        // The operator allows the test's own remotes: a folder of file repositories, one ssh host, and
        // the server's own git endpoint on loopback.
        server = Hooks.start(dir.resolve("data"), new Config.Repos(github.apiUrl(), null, List.of(fakeSsh.toString()),
                1L << 20).withAllowed(Set.of(), List.of("file://" + dir.toAbsolutePath() + "/",
                "ssh://git@git.example.com:2222/", "http://127.0.0.1:")));
        bare = dir.resolve("remote/app.git");
        Files.createDirectories(bare);
        git(bare, "init", "-q", "--bare");
        work = dir.resolve("work");
        Files.createDirectories(work.resolve(".claude"));
        Files.writeString(work.resolve("CLAUDE.md"), "# first\n");
        Files.writeString(work.resolve(".claude/settings.json"), "{}\n");
        git(work, "init", "-q");
        git(work, "add", "-A");
        git(work, "commit", "-q", "-m", "first");
        git(work, "remote", "add", "origin", bare.toUri().toString());
        git(work, "push", "-q", "origin", "main");
        first = git(work, "rev-parse", "HEAD").trim();
    }

    @AfterAll
    static void stop() {
        server.close();
        github.close();
    }

    private static String fileUrl() {
        return "file://" + bare.toAbsolutePath();
    }

    @Test
    void an_abbreviated_sha_resolves_after_a_fetch_and_that_commit_is_released() {
        Hooks.createAndBind(server, "file-app", fileUrl(), null);

        TestServer.Response accepted = deployCommit(server, "file-app", first.substring(0, 7));

        assertThat(accepted.status()).as(accepted.body()).isEqualTo(202);
        assertThat(accepted.json().get("commit_sha").asText()).isEqualTo(first);
        JsonNode ended = awaitDeployEnded(server, "file-app", accepted.json().get("deploy_id").asText());
        assertThat(ended.get("status").asText()).as(ended.toString()).isEqualTo("succeeded");
        JsonNode release = Hooks.releases(server, "file-app").get(0);
        assertThat(release.get("commit_sha").asText()).isEqualTo(first);
        assertThat(release.get("harness").asText()).isEqualTo("claude");
        assertThat(github.seen()).as("a git URL never touches the GitHub API").isEmpty();
    }

    @Test
    void an_ssh_url_is_fetched_through_the_ssh_client_with_batch_mode_port_and_user() throws IOException {
        String url = "ssh://git@git.example.com:2222" + bare.toAbsolutePath();
        Hooks.createAndBind(server, "ssh-app", url, null);

        TestServer.Response accepted = deployCommit(server, "ssh-app", first.substring(0, 9));

        assertThat(accepted.status()).as(accepted.body()).isEqualTo(202);
        JsonNode ended = awaitDeployEnded(server, "ssh-app", accepted.json().get("deploy_id").asText());
        assertThat(ended.get("status").asText()).as(ended.toString()).isEqualTo("succeeded");
        assertThat(Files.readAllLines(fakeSsh.resolveSibling("ssh.log"))).contains("-o BatchMode=yes -o "
                + "ConnectTimeout=10 -o ServerAliveInterval=30 -o ServerAliveCountMax=1 -p 2222 -- git@git.example.com git-upload-pack '" + bare.toAbsolutePath() + "'");
    }

    @Test
    void a_commit_pushed_to_the_remote_later_is_fetched_when_it_is_deployed() throws IOException {
        Hooks.createAndBind(server, "later-app", fileUrl(), null);
        assertThat(deployCommit(server, "later-app", first).status()).isEqualTo(202);
        Path clone = dir.resolve("later-clone");
        git(dir, "clone", "-q", bare.toUri().toString(), clone.toString());
        git(clone, "checkout", "-q", "-b", "later");
        Files.writeString(clone.resolve("CLAUDE.md"), "# later\n");
        git(clone, "commit", "-q", "-am", "later");
        git(clone, "push", "-q", "origin", "later");
        String later = git(clone, "rev-parse", "HEAD").trim();

        TestServer.Response accepted = deployCommit(server, "later-app", later);

        JsonNode ended = awaitDeployEnded(server, "later-app", accepted.json().get("deploy_id").asText());
        assertThat(ended.get("status").asText()).as(ended.toString()).isEqualTo("succeeded");
        assertThat(Hooks.releases(server, "later-app").get(0).get("commit_sha").asText()).isEqualTo(later);
    }

    @Test
    void a_bound_repository_fetched_again_and_again_is_compacted_into_few_packs() throws IOException {
        TestServer.assumeDataDirStorage();
        Path remote = dir.resolve("busy/app.git");
        Files.createDirectories(remote);
        git(remote, "init", "-q", "--bare");
        Path clone = dir.resolve("busy-clone");
        git(dir, "clone", "-q", remote.toUri().toString(), clone.toString());
        Hooks.createAndBind(server, "busy-app", "file://" + remote.toAbsolutePath(), null);
        for (int i = 1; i <= 10; i++) {
            Files.writeString(clone.resolve("CLAUDE.md"), "# version " + i + "\n");
            git(clone, "add", "-A");
            git(clone, "commit", "-q", "-m", "version " + i);
            git(clone, "push", "-q", "origin", "HEAD:main");
            TestServer.Response accepted = deployCommit(server, "busy-app", git(clone, "rev-parse", "HEAD").trim());
            JsonNode ended = awaitDeployEnded(server, "busy-app", accepted.json().get("deploy_id").asText());
            assertThat(ended.get("status").asText()).as(ended.toString()).isEqualTo("succeeded");
        }
        String projectId;
        try (Database db = server.openDatabase()) {
            projectId = db.withHandle(h -> h.select("SELECT id FROM projects WHERE name = 'busy-app'")
                    .mapTo(String.class).one());
        }
        Path bound = dir.resolve("data/projects").resolve(projectId).resolve("bound");

        // Each fetch stored a pack in the cache; past eight they are compacted in the background.
        await().atMost(Duration.ofSeconds(20)).untilAsserted(() -> {
            try (Stream<Path> files = Files.walk(bound)) {
                assertThat(files.filter(f -> f.toString().endsWith(".pack")).count()).isBetween(1L, 4L);
            }
        });
        assertThat(Hooks.releases(server, "busy-app")).hasSize(10);
    }

    @Test
    void an_unknown_abbreviated_sha_is_422_and_an_unknown_full_sha_fails_the_deploy() {
        Hooks.createAndBind(server, "unknown-app", fileUrl(), null);

        TestServer.Response refused = deployCommit(server, "unknown-app", "0000abc");
        String missing = "0123456789abcdef0123456789abcdef01234567";
        TestServer.Response accepted = deployCommit(server, "unknown-app", missing);

        assertThat(refused.status()).as(refused.body()).isEqualTo(422);
        assertThat(refused.json().get("error").asText()).isEqualTo("unknown_commit");
        assertThat(refused.json().get("message").asText()).isEqualTo("commit 0000abc is not on a branch or tag of "
                + fileUrl() + ": push it there first");
        JsonNode failed = awaitDeployEnded(server, "unknown-app", accepted.json().get("deploy_id").asText());
        assertThat(failed.get("status").asText()).isEqualTo("failed");
        assertThat(failed.get("error").asText()).isEqualTo("commit " + missing + " is not in " + fileUrl()
                + " (every branch and tag was fetched): push it there first");
    }

    @Test
    void a_repository_that_does_not_exist_fails_the_deploy_with_the_reason() {
        Hooks.createAndBind(server, "nowhere-app", "file://" + dir.resolve("no-such.git").toAbsolutePath(), null);

        TestServer.Response accepted = deployCommit(server, "nowhere-app", first);

        JsonNode failed = awaitDeployEnded(server, "nowhere-app", accepted.json().get("deploy_id").asText());
        assertThat(failed.get("status").asText()).isEqualTo("failed");
        assertThat(failed.get("error").asText()).startsWith("could not fetch file://" + dir.resolve("no-such.git")
                .toAbsolutePath() + ": ");
    }

    @Test
    void credentials_in_the_url_fetch_a_private_remote_and_appear_nowhere() {
        // The remote: another project's own git endpoint, which needs a key (Basic auth password).
        String key = server.createKey("fetcher", "read");
        TestServer.Response upstream = server.post("/agent_projects", server.adminKey(), "{\"name\":\"upstream\"}");
        assertThat(upstream.status()).isEqualTo(201);
        String gitUrl = upstream.json().get("git_url").asText();
        git(work, "push", "-q", gitUrl.replace("://", "://x:" + server.adminKey() + "@"), "main");
        String withKey = gitUrl.replace("://", "://ci:" + key + "@");

        TestServer.Response bound = Hooks.bind(server, server.adminKey(), "private-remote-app",
                "{\"url\":\"" + withKey + "\"}");
        assertThat(bound.status()).as("the project must exist first").isEqualTo(404);
        server.post("/agent_projects", server.adminKey(), "{\"name\":\"private-remote-app\"}");
        bound = Hooks.bind(server, server.adminKey(), "private-remote-app", "{\"url\":\"" + withKey + "\"}");
        assertThat(bound.status()).as(bound.body()).isEqualTo(200);
        TestServer.Response accepted = deployCommit(server, "private-remote-app", first.substring(0, 8));
        assertThat(accepted.status()).as(accepted.body()).isEqualTo(202);
        JsonNode ended = awaitDeployEnded(server, "private-remote-app", accepted.json().get("deploy_id").asText());

        assertThat(ended.get("status").asText()).as(ended.toString()).isEqualTo("succeeded");
        assertThat(bound.json().at("/repo/url").asText()).isEqualTo(gitUrl);
        List<String> shown = new ArrayList<>(List.of(bound.body(),
                server.get("/agent_projects/private-remote-app/repo", server.adminKey()).body(),
                server.get("/agent_projects/private-remote-app", server.adminKey()).body(),
                server.get("/agent_projects", server.adminKey()).body(),
                server.get("/audit_events", server.adminKey()).body(),
                server.get("/agent_projects/private-remote-app/deploys", server.adminKey()).body()));
        shown.addAll(Hooks.projectLog(server, "private-remote-app"));
        assertThat(shown).allSatisfy(text -> assertThat(text).doesNotContain(key));
    }

    @Test
    void wrong_credentials_fail_the_deploy_without_repeating_them() {
        String wrong = TestServer.randomKey();
        server.post("/agent_projects", server.adminKey(), "{\"name\":\"upstream-two\"}");
        String gitUrl = server.get("/agent_projects/upstream-two", server.adminKey()).json().get("git_url").asText();
        Hooks.createAndBind(server, "wrong-key-app", gitUrl.replace("://", "://ci:" + wrong + "@"), null);

        TestServer.Response accepted = deployCommit(server, "wrong-key-app", first);
        JsonNode failed = awaitDeployEnded(server, "wrong-key-app", accepted.json().get("deploy_id").asText());

        assertThat(failed.get("status").asText()).isEqualTo("failed");
        assertThat(failed.get("error").asText()).startsWith("could not fetch " + gitUrl + ": ").doesNotContain(wrong);
        assertThat(Hooks.projectLog(server, "wrong-key-app")).allSatisfy(line -> assertThat(line).doesNotContain(wrong));
    }

    @Test
    void a_signed_webhook_from_a_github_compatible_server_deploys_a_git_binding_by_its_clone_url() {
        String key = server.createKey("hook-fetcher", "read");
        server.post("/agent_projects", server.adminKey(), "{\"name\":\"hooked-upstream\"}");
        String gitUrl = server.get("/agent_projects/hooked-upstream", server.adminKey()).json().get("git_url").asText();
        git(work, "push", "-q", gitUrl.replace("://", "://x:" + server.adminKey() + "@"), "main");
        String secret = Hooks.createAndBind(server, "hooked-app", gitUrl.replace("://", "://ci:" + key + "@"), null);
        String payload = "{\"ref\":\"refs/heads/main\",\"after\":\"" + first + "\",\"deleted\":false,"
                + "\"repository\":{\"full_name\":\"team/hooked-upstream\",\"clone_url\":\"" + gitUrl + "\"}}";

        TestServer.Response answer = Hooks.deliver(server, "push", Hooks.newDelivery(), payload, secret);

        assertThat(answer.status()).as(answer.body()).isEqualTo(202);
        JsonNode ended = awaitDeployEnded(server, "hooked-app", answer.json().get("deploy_id").asText());
        assertThat(ended.get("status").asText()).as(ended.toString()).isEqualTo("succeeded");
        assertThat(ended.get("source").asText()).isEqualTo("webhook");
    }

    @Test
    void a_file_url_into_the_data_directory_is_refused() {
        server.post("/agent_projects", server.adminKey(), "{\"name\":\"snooper\"}");

        TestServer.Response refused = Hooks.bind(server, server.adminKey(), "snooper",
                "{\"url\":\"file://" + dir.resolve("data").resolve("projects").toAbsolutePath() + "/x/repo.git\"}");

        assertThat(refused.status()).isEqualTo(400);
        assertThat(refused.json().get("message").asText()).contains("data directory");
        assertThat(server.get("/agent_projects/snooper/repo", server.adminKey()).status()).isEqualTo(404);
    }

    /** Runs the real git with an isolated HOME; returns its standard output; fails the test on a non-zero exit. */
    static String git(Path in, String... args) {
        return new GitRunner(dir.resolve("home")).run(in, args).ok().out();
    }
}
