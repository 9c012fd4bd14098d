package dev.karta.server.repos;

import static dev.karta.server.ingest.webhooks.Hooks.awaitDeployEnded;
import static dev.karta.server.ingest.webhooks.Hooks.deployCommit;
import static dev.karta.server.ingest.webhooks.Hooks.sha;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import dev.karta.server.Config;
import dev.karta.server.testkit.TarBuilder;
import dev.karta.server.testkit.TestServer;
import dev.karta.server.ingest.webhooks.Hooks;
import java.io.IOException;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Set;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Bound repositories (docs/github.md): a GitHub binding fetches {@code {api}/repos/o/r/tarball/{sha}}
 * (following the redirect, the token only to the API host) and materializes it like an upload;
 * GitHub's refusals fail the deploy with the reason and change nothing that serves.
 */
class GitHubSourceTest {
    private static final String TOKEN = "ghs_fakeTokenForTests0123456789";
    private static final AtomicInteger N = new AtomicInteger(1000);

    @TempDir
    static Path dataDir;
    static FakeGitHub github;
    static TestServer server;

    @BeforeAll
    static void start() {
        github = FakeGitHub.start();
        server = Hooks.start(dataDir, github, TOKEN);
    }

    @AfterAll
    static void stop() {
        server.close();
        github.close();
    }

    /** A new project bound to a new repository {@code acme/NAME}; returns the project name. */
    private static String boundProject(String name) {
        Hooks.createAndBind(server, name, "https://github.com/acme/" + name + ".git", null);
        return name;
    }

    private static String commit(String repo, String marker) {
        String sha = sha(N.incrementAndGet());
        github.commit(repo, sha, marker);
        return sha;
    }

    private static JsonNode deployAndWait(String project, String sha) {
        TestServer.Response accepted = deployCommit(server, project, sha);
        assertThat(accepted.status()).as(accepted.body()).isEqualTo(202);
        return awaitDeployEnded(server, project, accepted.json().get("deploy_id").asText());
    }

    @Test
    void deploy_by_full_sha_fetches_the_tarball_and_releases_that_commit() {
        String project = boundProject("tarball-app");
        String sha = commit("acme/tarball-app", "from github");

        TestServer.Response accepted = deployCommit(server, project, sha.toUpperCase());

        assertThat(accepted.status()).as(accepted.body()).isEqualTo(202);
        assertThat(accepted.json().get("commit_sha").asText()).isEqualTo(sha);
        JsonNode ended = awaitDeployEnded(server, project, accepted.json().get("deploy_id").asText());
        assertThat(ended.get("status").asText()).as(ended.toString()).isEqualTo("succeeded");
        assertThat(ended.get("source").asText()).isEqualTo("deploy");
        JsonNode release = Hooks.releases(server, project).get(0);
        assertThat(release.get("commit_sha").asText()).isEqualTo(sha);
        assertThat(release.get("harness").asText()).isEqualTo("claude");
        assertThat(Hooks.projectLog(server, project)).anySatisfy(line -> assertThat(line)
                .isEqualTo("Fetching " + github.apiUrl() + "/repos/acme/tarball-app/tarball/" + sha));
    }

    @Test
    void an_abbreviated_sha_is_resolved_through_the_commits_api() {
        String project = boundProject("short-sha-app");
        String sha = commit("acme/short-sha-app", "short");

        TestServer.Response accepted = deployCommit(server, project, sha.substring(0, 7));

        assertThat(accepted.status()).as(accepted.body()).isEqualTo(202);
        assertThat(accepted.json().get("commit_sha").asText()).isEqualTo(sha);
        assertThat(awaitDeployEnded(server, project, accepted.json().get("deploy_id").asText()).get("status").asText())
                .isEqualTo("succeeded");
        assertThat(github.seen()).anySatisfy(s -> assertThat(s.path())
                .isEqualTo("/repos/acme/short-sha-app/commits/" + sha.substring(0, 7)));
    }

    @Test
    void an_abbreviated_sha_github_does_not_know_is_422_and_queues_nothing() {
        String project = boundProject("unknown-short-app");
        commit("acme/unknown-short-app", "x");

        TestServer.Response refused = deployCommit(server, project, "abcdef1");

        assertThat(refused.status()).as(refused.body()).isEqualTo(422);
        assertThat(refused.json().get("error").asText()).isEqualTo("unknown_commit");
        assertThat(refused.json().get("message").asText()).startsWith("GitHub has no commit abcdef1 in acme/unknown-short-app");
        assertThat(Hooks.deploys(server, project)).isEmpty();
    }

    @Test
    void a_full_sha_github_does_not_have_fails_the_deploy_and_keeps_the_live_release() {
        String project = boundProject("missing-sha-app");
        String good = commit("acme/missing-sha-app", "good");
        assertThat(deployAndWait(project, good).get("status").asText()).isEqualTo("succeeded");
        String missing = sha(N.incrementAndGet());

        JsonNode failed = deployAndWait(project, missing);

        assertThat(failed.get("status").asText()).isEqualTo("failed");
        assertThat(failed.get("error").asText()).startsWith("GitHub has no commit " + missing
                + " in acme/missing-sha-app (404 \"Not Found\")");
        assertThat(Hooks.releases(server, project)).hasSize(1);
        assertThat(server.get("/agent_projects/" + project, server.adminKey()).json().at("/current_release/commit_sha")
                .asText()).isEqualTo(good);
    }

    @Test
    void github_401_fails_the_deploy_saying_the_token_was_rejected() {
        String project = boundProject("bad-token-app");
        String sha = commit("acme/bad-token-app", "x");
        github.mode("acme/bad-token-app", FakeGitHub.Mode.UNAUTHORIZED);

        JsonNode failed = deployAndWait(project, sha);

        assertThat(failed.get("status").asText()).isEqualTo("failed");
        assertThat(failed.get("error").asText())
                .isEqualTo("GitHub rejected the token (401 \"Bad credentials\"): check the binding's token, or "
                        + "KARTA_GITHUB_TOKEN for the owners it is meant for");
        assertThat(failed.get("error").asText()).doesNotContain(TOKEN);
    }

    @Test
    void github_403_fails_the_deploy_saying_access_was_refused() {
        String project = boundProject("forbidden-app");
        String sha = commit("acme/forbidden-app", "x");
        github.mode("acme/forbidden-app", FakeGitHub.Mode.FORBIDDEN);

        JsonNode failed = deployAndWait(project, sha);

        assertThat(failed.get("status").asText()).isEqualTo("failed");
        assertThat(failed.get("error").asText()).startsWith("GitHub refused access to acme/forbidden-app (403 "
                + "\"Resource not accessible by integration\")");
    }

    @Test
    void a_rate_limit_fails_the_deploy_saying_when_it_resets_without_retrying() {
        String project = boundProject("rate-limited-app");
        String sha = commit("acme/rate-limited-app", "x");
        github.mode("acme/rate-limited-app", FakeGitHub.Mode.RATE_LIMITED);

        JsonNode failed = deployAndWait(project, sha);

        assertThat(failed.get("status").asText()).isEqualTo("failed");
        assertThat(failed.get("error").asText()).startsWith("GitHub rate limit reached (403 \"API rate limit exceeded")
                .contains("it resets at 2030-01-01T00:00:00Z");
        assertThat(github.seen().stream().filter(s -> s.path().contains("/rate-limited-app/tarball/"))).hasSize(1);
    }

    @Test
    void an_abbreviated_sha_github_refuses_or_rate_limits_is_422_or_503_saying_why() {
        String refused = boundProject("short-refused-app");
        commit("acme/short-refused-app", "x");
        github.mode("acme/short-refused-app", FakeGitHub.Mode.UNAUTHORIZED);
        String limited = boundProject("short-limited-app");
        commit("acme/short-limited-app", "x");
        github.mode("acme/short-limited-app", FakeGitHub.Mode.RATE_LIMITED);

        TestServer.Response unauthorized = deployCommit(server, refused, "abcdef1");
        TestServer.Response rateLimited = deployCommit(server, limited, "abcdef1");

        assertThat(unauthorized.status()).isEqualTo(422);
        assertThat(unauthorized.json().get("error").asText()).isEqualTo("github_refused");
        assertThat(unauthorized.json().get("message").asText()).contains("401", "KARTA_GITHUB_TOKEN");
        assertThat(rateLimited.status()).isEqualTo(503);
        assertThat(rateLimited.json().get("error").asText()).isEqualTo("github_unavailable");
        assertThat(rateLimited.json().get("message").asText()).startsWith("GitHub rate limit reached");
        assertThat(Hooks.deploys(server, refused)).isEmpty();
        assertThat(Hooks.deploys(server, limited)).isEmpty();
    }

    @Test
    void server_errors_are_retried_with_backoff_and_then_succeed() {
        String project = boundProject("flaky-app");
        String sha = commit("acme/flaky-app", "flaky");
        github.mode("acme/flaky-app", FakeGitHub.Mode.FLAKY).failNext(2);

        JsonNode ended = deployAndWait(project, sha);

        assertThat(ended.get("status").asText()).as(ended.toString()).isEqualTo("succeeded");
        assertThat(github.seen().stream().filter(s -> s.path().contains("/flaky-app/tarball/"))).hasSize(3);
        assertThat(Hooks.projectLog(server, project)).anySatisfy(line -> assertThat(line)
                .startsWith("Download attempt 1 failed (127.0.0.1 answered 502); retrying in 500 ms"));
    }

    @Test
    void the_token_goes_to_the_api_host_and_never_to_the_archive_host() {
        String project = boundProject("private-app");
        String sha = commit("acme/private-app", "private");
        github.makePrivate("acme/private-app", TOKEN);

        JsonNode ended = deployAndWait(project, sha);

        assertThat(ended.get("status").asText()).as(ended.toString()).isEqualTo("succeeded");
        assertThat(github.seen()).filteredOn(s -> s.path().contains("private-app"))
                .extracting(FakeGitHub.Seen::host).containsExactly("api", "archive");
        assertThat(github.authorizationsTo("api")).isNotEmpty().allSatisfy(a -> assertThat(a).isEqualTo("Bearer " + TOKEN));
        assertThat(github.authorizationsTo("archive")).isEmpty();
    }

    @Test
    void a_private_repository_without_a_token_fails_saying_a_token_is_needed(@TempDir Path otherData) {
        github.commit("acme/secret-app", sha(1), "x").makePrivate("acme/secret-app", TOKEN);
        try (TestServer tokenless = Hooks.start(otherData, github, null)) {
            Hooks.createAndBind(tokenless, "secret-app", "acme/secret-app", null);
            TestServer.Response accepted = deployCommit(tokenless, "secret-app", sha(1));

            JsonNode failed = awaitDeployEnded(tokenless, "secret-app", accepted.json().get("deploy_id").asText());

            assertThat(failed.get("status").asText()).isEqualTo("failed");
            assertThat(failed.get("error").asText()).contains("(404 \"Not Found\")",
                    "a private repository also answers 404 without a token (bind it with a token: karta repo bind PROJECT URL "
                            + "--token-stdin)");
        }
    }

    @Test
    void an_unreachable_api_fails_the_deploy_after_bounded_retries(@TempDir Path otherData) throws IOException {
        int closedPort;
        try (ServerSocket socket = new ServerSocket(0)) {
            closedPort = socket.getLocalPort();
        }
        try (TestServer offline = Hooks.start(otherData, new Config.Repos("http://127.0.0.1:" + closedPort, null,
                List.of("ssh"), 1L << 20))) {
            Hooks.createAndBind(offline, "offline-app", "acme/offline-app", null);
            TestServer.Response accepted = deployCommit(offline, "offline-app", sha(2));

            JsonNode failed = awaitDeployEnded(offline, "offline-app", accepted.json().get("deploy_id").asText());

            assertThat(failed.get("status").asText()).isEqualTo("failed");
            assertThat(failed.get("error").asText()).startsWith("could not download the tarball of acme/offline-app@"
                    + sha(2) + " from GitHub after 3 attempts: could not reach 127.0.0.1");
            assertThat(Hooks.projectLog(offline, "offline-app"))
                    .filteredOn(line -> line.startsWith("Download attempt")).hasSize(2);

            TestServer.Response shortSha = deployCommit(offline, "offline-app", "abc1234");
            assertThat(shortSha.status()).as(shortSha.body()).isEqualTo(503);
            assertThat(shortSha.json().get("error").asText()).isEqualTo("github_unavailable");
        }
    }

    @Test
    void a_hostile_tarball_is_rejected_by_the_same_checks_as_an_upload() {
        String project = boundProject("hostile-app");
        String sha = sha(N.incrementAndGet());
        github.tarball("acme/hostile-app", sha, new TarBuilder().dir("acme-hostile-app-x/")
                .file("acme-hostile-app-x/CLAUDE.md", "# x\n").file("acme-hostile-app-x/../../escape", "x").build());

        JsonNode failed = deployAndWait(project, sha);

        assertThat(failed.get("status").asText()).isEqualTo("failed");
        assertThat(failed.get("error").asText()).contains("(path_traversal)");
        assertThat(Hooks.releases(server, project)).isEmpty();
    }

    @Test
    void a_tarball_over_the_archive_limit_fails_while_downloading_and_leaves_nothing(@TempDir Path otherData)
            throws IOException {
        Config small = TestServer.config(otherData, TestServer.randomKey()).toBuilder()
                .archive(new Config.ArchiveLimits(4096, 1 << 20, 100, 1024, 32))
                .repos(new Config.Repos(github.apiUrl(), null, List.of("ssh"), 1L << 20)
                        .withAllowed(Set.of(), List.of(github.archiveUrl() + "/")))
                .build();
        String sha = sha(3);
        TarBuilder big = new TarBuilder().dir("acme-big-app-x/").file("acme-big-app-x/CLAUDE.md", "# big\n");
        java.util.Random random = new java.util.Random(7);
        byte[] noise = new byte[64 * 1024];
        random.nextBytes(noise);
        big.file("acme-big-app-x/noise.txt", java.util.Base64.getEncoder().encodeToString(noise));
        github.tarball("acme/big-app", sha, big.build());
        try (TestServer limited = TestServer.start(small)) {
            Hooks.createAndBind(limited, "big-app", "acme/big-app", null);
            TestServer.Response accepted = deployCommit(limited, "big-app", sha);

            JsonNode failed = awaitDeployEnded(limited, "big-app", accepted.json().get("deploy_id").asText());

            assertThat(failed.get("status").asText()).isEqualTo("failed");
            assertThat(failed.get("error").asText()).contains("max_archive_bytes", "(archive_too_large)");
        }
        try (Stream<Path> trees = Files.list(otherData.resolve("trees"))) {
            assertThat(trees.map(p -> p.getFileName().toString())).allSatisfy(name -> assertThat(name)
                    .isEqualTo(".staging"));
        }
        try (Stream<Path> staging = Files.list(otherData.resolve("trees").resolve(".staging"))) {
            assertThat(staging).isEmpty();
        }
    }

    @Test
    void a_bound_project_deploys_commits_from_its_binding_and_an_unbound_one_from_its_own_repository() {
        String project = boundProject("precedence-app");
        String sha = commit("acme/precedence-app", "bound");
        assertThat(deployAndWait(project, sha).get("status").asText()).isEqualTo("succeeded");

        assertThat(server.delete("/agent_projects/" + project + "/repo", server.adminKey()).status()).isEqualTo(204);
        TestServer.Response unbound = deployCommit(server, project, sha);

        assertThat(unbound.status()).as(unbound.body()).isEqualTo(422);
        assertThat(unbound.json().get("error").asText()).isEqualTo("unknown_commit");
        assertThat(unbound.json().get("message").asText()).contains("precedence-app's repository", "git push karta");
    }
}
