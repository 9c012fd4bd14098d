package dev.karta.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import dev.karta.api.Json;
import java.io.IOException;
import java.nio.file.Path;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * {@code karta deploy NAME --commit SHA [--wait]} end to end: each project's repository is filled
 * by a real {@code git push} to a real server, then commits that were pushed to other branches
 * (stored, not deployed) are deployed by their SHA.
 */
class DeployByCommitTest {
    @RegisterExtension
    static final CliServer cli = new CliServer();

    TestGit git;

    @BeforeEach
    void setUp() {
        git = new TestGit(cli.home());
    }

    /** A repository pushed to {@code project} (so v1 is active), with the remote {@code karta} carrying the key. */
    private Path pushed(String project) {
        Path repo = git.newApp(cli.home().resolve(project));
        String withKey = cli.server().url().replace("http://", "http://x:" + TestServer.ADMIN_KEY + "@");
        git.run(repo, "remote", "add", "karta", withKey + "/git/" + project + ".git").ok();
        assertThat(git.run(repo, "push", "karta", "main").ok().err()).contains("remote: Released v1");
        return repo;
    }

    /** Commits a change and pushes it to {@code branch}, which stores it without deploying; returns its SHA. */
    private String storedOn(Path repo, String branch, String file, String text) {
        TestGit.write(repo.resolve(file), text);
        String sha = git.commitAll(repo, "change on " + branch);
        assertThat(git.run(repo, "push", "karta", "HEAD:refs/heads/" + branch).ok().err()).contains("not deployed");
        return sha;
    }

    @Test
    void deploy_by_short_sha_streams_the_build_and_exits_0_with_the_release() {
        Path repo = pushed("short-shop");
        String sha = storedOn(repo, "next", "CLAUDE.md", "# Test app\nAnswer briefly.\n");

        Run.Result deploy = cli.karta().run("deploy", "short-shop", "--commit", sha.substring(0, 7), "--wait");

        assertThat(deploy.exitCode()).as(deploy.toString()).isZero();
        assertThat(deploy.stdout()).startsWith("  Deploy dep_").contains("  Detected harness claude")
                .endsWith("Released v2 — " + cli.server().url() + "/v1/projects/short-shop\n");
        assertThat(deploy.stderr()).startsWith("Deploying " + sha.substring(0, 7) + " to short-shop (dep_");
        JsonNode v2 = json(cli.karta().run("projects", "releases", "short-shop", "--json")).get("releases").get(0);
        assertThat(v2.get("version").asText()).isEqualTo("v2");
        assertThat(v2.get("commit_sha").asText()).isEqualTo(sha);
        assertThat(v2.get("source").asText()).isEqualTo("deploy");
        assertThat(v2.get("status").asText()).isEqualTo("active");
    }

    @Test
    void deploy_by_full_sha_with_json_prints_the_finished_deploy() {
        Path repo = pushed("full-shop");
        String sha = storedOn(repo, "next", "notes.md", "more\n");

        Run.Result deploy = cli.karta().run("deploy", "full-shop", "--commit", sha, "--wait", "--json");

        assertThat(deploy.exitCode()).as(deploy.toString()).isZero();
        JsonNode finished = json(deploy);
        assertThat(finished.get("status").asText()).isEqualTo("succeeded");
        assertThat(finished.get("release").asText()).isEqualTo("v2");
        assertThat(finished.get("commit_sha").asText()).isEqualTo(sha);
        assertThat(deploy.stderr()).contains("  Detected harness claude");
    }

    @Test
    void deploy_of_a_commit_whose_build_fails_exits_1_with_the_reason_and_keeps_v1() {
        Path repo = pushed("failing-shop");
        String sha = storedOn(repo, "broken", "karta.toml", "entry_point = 42\n");

        Run.Result deploy = cli.karta().run("deploy", "failing-shop", "--commit", sha, "--wait");

        assertThat(deploy.exitCode()).as(deploy.toString()).isEqualTo(1);
        assertThat(deploy.stderr()).endsWith("karta: build failed: karta.toml: 'entry_point' must be a string, "
                + "got integer 42\n");
        assertThat(deploy.stdout()).doesNotContain("Released");
        assertThat(cli.karta().run("projects", "info", "failing-shop").stdout()).contains("Release:     v1 (");
    }

    @Test
    void deploy_without_wait_queues_the_commit_and_returns_at_once() {
        Path repo = pushed("queued-shop");
        String sha = storedOn(repo, "next", "notes.md", "queued\n");

        Run.Result deploy = cli.karta().run("deploy", "queued-shop", "--commit", sha.substring(0, 10));

        assertThat(deploy.exitCode()).as(deploy.toString()).isZero();
        assertThat(deploy.stdout()).matches("Queued deploy dep_\\w+ of queued-shop at " + sha.substring(0, 7) + "\n");
    }

    @Test
    void deploy_of_an_unknown_sha_exits_1_with_the_servers_message() {
        pushed("unknown-shop");

        Run.Result deploy = cli.karta().run("deploy", "unknown-shop", "--commit", "deadbeef", "--wait");

        assertThat(deploy.exitCode()).as(deploy.toString()).isEqualTo(1);
        assertThat(deploy.stderr()).isEqualTo("karta: commit deadbeef is not in unknown-shop's repository: "
                + "git push karta <branch> first (pushes to 'main' also deploy)\n");
        assertThat(deploy.stdout()).isEmpty();
    }

    @Test
    void deploy_to_an_unknown_project_exits_4() {
        Run.Result deploy = cli.karta().run("deploy", "no-such-shop", "--commit", "deadbeef");

        assertThat(deploy.exitCode()).as(deploy.toString()).isEqualTo(4);
        assertThat(deploy.stderr()).startsWith("karta: ").contains("no-such-shop");
    }

    private static JsonNode json(Run.Result result) {
        try {
            return Json.newMapper().readTree(result.stdout());
        } catch (IOException e) {
            throw new AssertionError("not JSON: " + result, e);
        }
    }
}
