package dev.karta.cli;

import static dev.karta.cli.FakeKarta.endEvent;
import static dev.karta.cli.FakeKarta.event;
import static dev.karta.cli.FakeKarta.logEvent;
import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code karta deploy} and {@code karta rollback} against the server's contract (scripted server). */
class DeployCommandTest {
    @TempDir
    Path home;
    FakeKarta fake;
    Run karta;

    @BeforeEach
    void start() throws IOException {
        fake = new FakeKarta();
        karta = new Run(home).env("KARTA_SERVER", fake.url()).env("KARTA_API_KEY", TestServer.ADMIN_KEY);
        fake.on("POST", "/agent_projects/shop/deploys", (exchange, request) -> FakeKarta.json(exchange, 202,
                "{\"accepted\":true,\"project\":\"shop\",\"commit_sha\":\"0123456789abcdef\",\"deploy_id\":\"dep_1\"}"));
        fake.on("GET", "/agent_projects/shop", (exchange, request) -> FakeKarta.json(exchange, 200,
                "{\"name\":\"shop\",\"url\":\"" + fake.url() + "/v1/projects/shop\"}"));
    }

    @AfterEach
    void stop() {
        fake.close();
    }

    private void buildEndsWith(String end) {
        fake.on("GET", "/agent_projects/shop/deploys/dep_1/logs", (exchange, request) -> {
            OutputStream out = FakeKarta.sse(exchange);
            event(out, logEvent(1, "Fetching 0123456"));
            event(out, end);
        });
    }

    @Test
    void deploy_queues_the_commit_and_returns_at_once() {
        Run.Result deploy = karta.run("deploy", "shop", "--commit", "0123456789abcdef");

        assertThat(deploy.exitCode()).as(deploy.toString()).isZero();
        assertThat(deploy.stdout()).isEqualTo("Queued deploy dep_1 of shop at 0123456\n");
        String body = new String(fake.requests("POST", "/agent_projects/shop/deploys").get(0).body(), StandardCharsets.UTF_8);
        assertThat(body).isEqualTo("{\"commit_sha\":\"0123456789abcdef\"}");
        assertThat(fake.requests("GET", "/agent_projects/shop/deploys/dep_1/logs")).isEmpty();
    }

    @Test
    void deploy_wait_streams_the_log_and_exits_0_on_success() {
        buildEndsWith(endEvent("succeeded", "v4", null));

        Run.Result deploy = karta.run("deploy", "shop", "--commit", "0123456789abcdef", "--wait");

        assertThat(deploy.exitCode()).as(deploy.toString()).isZero();
        assertThat(deploy.stdout()).isEqualTo("  Fetching 0123456\nReleased v4 — " + fake.url() + "/v1/projects/shop\n");
    }

    @Test
    void deploy_wait_exits_1_when_superseded() {
        buildEndsWith(endEvent("superseded", null, null));

        Run.Result deploy = karta.run("deploy", "shop", "--commit", "0123456789abcdef", "--wait");

        assertThat(deploy.exitCode()).isEqualTo(1);
        assertThat(deploy.stderr()).contains("karta: deploy dep_1 was superseded by a newer deploy of shop");
    }

    @Test
    void deploy_wait_exits_1_when_the_build_fails() {
        buildEndsWith(endEvent("failed", null, "commit 0123456 not found in the project repository"));

        Run.Result deploy = karta.run("deploy", "shop", "--commit", "0123456789abcdef", "--wait");

        assertThat(deploy.exitCode()).isEqualTo(1);
        assertThat(deploy.stderr()).endsWith("karta: build failed: commit 0123456 not found in the project repository\n");
    }

    @Test
    void rollback_prints_the_active_and_previous_version() {
        fake.on("POST", "/agent_projects/shop/rollback", (exchange, request) ->
                FakeKarta.json(exchange, 200, "{\"project\":\"shop\",\"active\":\"v3\",\"previous\":\"v5\"}"));

        Run.Result rollback = karta.run("rollback", "shop", "--to", "v3");

        assertThat(rollback.exitCode()).as(rollback.toString()).isZero();
        assertThat(rollback.stdout()).isEqualTo("shop: v3 active (was v5)\n");
        assertThat(new String(fake.requests("POST", "/agent_projects/shop/rollback").get(0).body(), StandardCharsets.UTF_8))
                .isEqualTo("{\"to\":\"v3\"}");
    }

    @Test
    void rollback_to_an_unknown_version_exits_4() {
        fake.on("POST", "/agent_projects/shop/rollback", (exchange, request) ->
                FakeKarta.json(exchange, 404, "{\"error\":\"not_found\",\"message\":\"release 'v9' not found\"}"));

        Run.Result rollback = karta.run("rollback", "shop", "--to", "v9");

        assertThat(rollback.exitCode()).isEqualTo(4);
        assertThat(rollback.stderr()).isEqualTo("karta: release 'v9' not found\n");
    }

    @Test
    void releases_are_a_table_with_the_active_one_marked() {
        String now = java.time.Instant.now().minusSeconds(180).toString();
        fake.on("GET", "/agent_projects/shop/releases", (exchange, request) -> FakeKarta.json(exchange, 200,
                "{\"releases\":["
                        + "{\"version\":\"v2\",\"number\":2,\"commit_sha\":\"bbbbbbbbbbbb\",\"status\":\"active\","
                        + "\"harness\":\"claude\",\"build_kind\":\"file_copy\",\"source\":\"upload\",\"created_at\":\"" + now + "\"},"
                        + "{\"version\":\"v1\",\"number\":1,\"commit_sha\":\"aaaaaaaaaaaa\",\"status\":\"superseded\","
                        + "\"harness\":\"opencode\",\"build_kind\":\"dockerfile\",\"source\":\"git_push\",\"created_at\":\"2026-01-01T00:00:00Z\"}]}"));

        Run.Result releases = karta.run("projects", "releases", "shop");

        assertThat(releases.exitCode()).as(releases.toString()).isZero();
        assertThat(releases.stdout().lines().toList()).hasSize(3);
        assertThat(releases.stdout()).startsWith("VERSION  STATUS      COMMIT   HARNESS   BUILD       SOURCE    AGE\n")
                .contains("v2       * active    bbbbbbb  claude    file_copy   upload    3m ago\n")
                .containsPattern("v1       superseded  aaaaaaa  opencode  dockerfile  git_push  \\d+d ago\n");
    }
}
