package dev.karta.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.karta.api.Json;
import dev.karta.server.Config;
import dev.karta.server.testkit.LocalOidcIssuer;
import java.io.IOException;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * The repository's GitHub Action ({@code action.yml}) run step by step as a runner would
 * ({@link ActionRunner}), installing the CLI from what {@code mvn package} made and deploying to a
 * real server. GitHub's OIDC token service is a fake at that edge, and so is Karta's token exchange.
 */
class GitHubActionIT {
    @RegisterExtension
    static final CliServer cli = new CliServer();

    static final String VERSION = System.getProperty("karta.version");
    static final Path REPOSITORY = Path.of("..").toAbsolutePath().normalize();
    static final Path ARCHIVE = Path.of("target/karta-cli-" + VERSION + ".tar.gz").toAbsolutePath();
    static final Path NPM_PACKAGE = Path.of("target/npm/karta-cli-" + VERSION + ".tgz").toAbsolutePath();

    @TempDir
    Path tmp;

    private ActionRunner action(Processes processes) {
        return new ActionRunner(REPOSITORY, tmp, processes);
    }

    private Processes runner() {
        return new Processes(tmp).env("HOME", tmp.resolve("home").toString());
    }

    /** A project whose repository has v1 live and {@code next} holding a stored commit; returns that commit. */
    private String storedCommit(String project) {
        return storedCommit(project, cli.server().url());
    }

    /** {@link #storedCommit(String)} on the server at {@code serverUrl}, whose admin key is the test kit's. */
    private String storedCommit(String project, String serverUrl) {
        TestGit git = new TestGit(cli.home());
        Path repo = git.newApp(cli.home().resolve(project));
        String withKey = serverUrl.replace("http://", "http://x:" + TestServer.ADMIN_KEY + "@");
        git.run(repo, "remote", "add", "karta", withKey + "/git/" + project + ".git").ok();
        assertThat(git.run(repo, "push", "karta", "main").ok().err()).contains("remote: Released v1");
        TestGit.write(repo.resolve("CLAUDE.md"), "# Test app\nAnswer in one line.\n");
        String sha = git.commitAll(repo, "shorter answers");
        assertThat(git.run(repo, "push", "karta", "HEAD:refs/heads/next").ok().err()).contains("not deployed");
        return sha;
    }

    @Test
    void api_key_path_installs_the_cli_from_the_archive_and_deploys_the_workflow_commit() throws IOException {
        String sha = storedCommit("ci-shop");

        ActionRunner.Outcome outcome = action(runner())
                .input("project", "ci-shop").input("server", cli.server().url() + "/")
                .input("api-key", TestServer.ADMIN_KEY).input("cli-url", ARCHIVE.toUri().toString())
                .github("sha", sha).run();

        assertThat(outcome.succeeded()).as(outcome.toString()).isTrue();
        assertThat(outcome.steps()).hasSize(2);
        assertThat(outcome.steps().get(0).stdout()).contains("Installed karta " + VERSION).endsWith("karta " + VERSION + "\n");
        String log = outcome.log();
        assertThat(log).contains("Deploying " + sha.substring(0, 7) + " to ci-shop")
                .contains("Released v2 — " + cli.server().url() + "/v1/projects/ci-shop");
        assertThat(log.lines().filter(line -> line.contains(TestServer.ADMIN_KEY)).toList())
                .as("the key is masked before use, and never printed otherwise")
                .containsExactly("::add-mask::" + TestServer.ADMIN_KEY);
        JsonNode v2 = Json.newMapper().readTree(cli.karta().run("projects", "releases", "ci-shop", "--json").stdout())
                .get("releases").get(0);
        assertThat(v2.get("commit_sha").asText()).isEqualTo(sha);
    }

    @Test
    void a_failed_build_fails_the_step() throws IOException {
        TestGit git = new TestGit(cli.home());
        Path repo = git.newApp(cli.home().resolve("broken-shop"));
        String withKey = cli.server().url().replace("http://", "http://x:" + TestServer.ADMIN_KEY + "@");
        git.run(repo, "remote", "add", "karta", withKey + "/git/broken-shop.git").ok();
        git.run(repo, "push", "karta", "main").ok();
        TestGit.write(repo.resolve("karta.toml"), "entry_point = 42\n");
        String sha = git.commitAll(repo, "a broken manifest");
        git.run(repo, "push", "karta", "HEAD:refs/heads/next").ok();

        ActionRunner.Outcome outcome = action(runner())
                .input("project", "broken-shop").input("server", cli.server().url())
                .input("api-key", TestServer.ADMIN_KEY).input("cli-url", ARCHIVE.toUri().toString())
                .github("sha", sha).run();

        assertThat(outcome.succeeded()).as(outcome.toString()).isFalse();
        assertThat(outcome.steps()).hasSize(2);
        assertThat(outcome.last().exitCode()).isEqualTo(1);
        assertThat(outcome.last().stderr()).contains("karta: build failed: karta.toml: 'entry_point' must be a string");
    }

    @Test
    void without_a_cli_url_the_cli_comes_from_npm_at_this_checkout_version() throws IOException {
        assumeTrue(Processes.onPath("npm"), "npm is not installed on this machine: the action's npm path is not tried");
        // npm's registry is the edge faked here: a stand-in `npm` records what the action asks for
        // and installs the package this build made instead.
        Path bin = Files.createDirectories(tmp.resolve("fake-npm"));
        Path asked = tmp.resolve("npm-args");
        TestGit.write(bin.resolve("npm"), "#!/bin/bash\nprintf '%s\\n' \"$@\" > " + asked + "\nargs=(\"$@\")\n"
                + "args[${#args[@]}-1]=" + NPM_PACKAGE + "\nexec " + realNpm() + " \"${args[@]}\" --offline\n");
        bin.resolve("npm").toFile().setExecutable(true);
        String sha = storedCommit("npm-shop");

        ActionRunner.Outcome outcome = action(runner().env("PATH", bin + ":" + System.getenv("PATH"))
                .env("npm_config_cache", tmp.resolve("npm-cache").toString()))
                .input("project", "npm-shop").input("server", cli.server().url())
                .input("api-key", TestServer.ADMIN_KEY).input("wait", "false").github("sha", sha).run();

        assertThat(outcome.succeeded()).as(outcome.toString()).isTrue();
        List<String> args = Files.readAllLines(asked);
        assertThat(args.get(0)).isEqualTo("install");
        assertThat(args).contains("--global").last().isEqualTo("@karta/cli@" + VERSION);
        assertThat(outcome.log()).contains("Queued deploy dep_").contains(" of npm-shop at " + sha.substring(0, 7))
                .doesNotContain("Released").doesNotContain("npm notice");
    }

    @Test
    void keyless_path_exchanges_the_github_oidc_token_for_a_key_and_deploys_with_it() throws IOException {
        String jwt = "eyJhbGciOiJSUzI1NiJ9.eyJyZXBvc2l0b3J5IjoiYWNtZS9zaG9wIn0.c2lnbmF0dXJl";
        String minted = "kt_live_MintedForCi0123456789abcdefABCDEF";
        try (FakeKarta github = new FakeKarta(); FakeKarta karta = new FakeKarta()) {
            github.on("GET", "/token", (exchange, request) -> FakeKarta.json(exchange, 200,
                    "{\"count\":1,\"value\":\"" + jwt + "\"}"));
            karta.on("POST", "/oidc/github/token", (exchange, request) -> FakeKarta.json(exchange, 201,
                    "{\"secret\":\"" + minted + "\",\"project\":\"shop\",\"expires_at\":\"2026-12-01T03:00:00Z\"}"));

            ActionRunner.Outcome outcome = action(runner()
                    .env("ACTIONS_ID_TOKEN_REQUEST_URL", github.url() + "/token?api-version=2.0")
                    .env("ACTIONS_ID_TOKEN_REQUEST_TOKEN", "runner-request-token"))
                    .input("project", "shop").input("server", karta.url()).input("wait", "false")
                    .input("cli-url", ARCHIVE.toUri().toString()).github("sha", "0123456789abcdef").run();

            FakeKarta.Request tokenRequest = github.requests("GET", "/token").get(0);
            assertThat(tokenRequest.header("Authorization")).isEqualTo("bearer runner-request-token");
            assertThat(Arrays.asList(tokenRequest.query().split("&")).stream()
                    .map(pair -> URLDecoder.decode(pair, StandardCharsets.UTF_8)).toList())
                    .containsExactly("api-version=2.0", "audience=" + karta.url());
            FakeKarta.Request exchange = karta.requests("POST", "/oidc/github/token").get(0);
            JsonNode body = Json.newMapper().readTree(exchange.body());
            assertThat(body.get("token").asText()).isEqualTo(jwt);
            assertThat(body.get("project").asText()).isEqualTo("shop");
            List<String> used = karta.requests("POST", "/agent_projects/shop/deploys").stream()
                    .map(request -> request.header("Authorization")).toList();
            assertThat(used).as(outcome.toString()).containsExactly("Bearer " + minted);
            assertThat(outcome.log()).contains("::add-mask::" + jwt).contains("::add-mask::" + minted);
        }
    }

    @Test
    void keyless_path_against_a_real_server_and_a_stand_in_issuer_deploys_the_trusted_project() throws IOException {
        try (LocalOidcIssuer issuer = new LocalOidcIssuer(); FakeKarta github = new FakeKarta();
             dev.karta.server.testkit.TestServer server = dev.karta.server.testkit.TestServer.start(
                     dev.karta.server.testkit.TestServer.config(tmp.resolve("oidc-data"), TestServer.ADMIN_KEY)
                             .toBuilder().oidc(Config.Oidc.DEFAULTS.withGithubIssuer(issuer.url())).build())) {
            String url = "http://127.0.0.1:" + server.port();
            String sha = storedCommit("oidc-shop", url);
            assertThat(server.post("/agent_projects/oidc-shop/ci_trusts", TestServer.ADMIN_KEY,
                    "{\"repository\":\"acme/shop-agent\",\"ref\":\"refs/heads/main\"}").status()).isEqualTo(201);
            // The runner's token service: a token for the audience asked, signed by the stand-in issuer.
            github.on("GET", "/token", (exchange, request) -> {
                String audience = Arrays.stream(request.query().split("&")).filter(p -> p.startsWith("audience="))
                        .map(p -> URLDecoder.decode(p.substring(9), StandardCharsets.UTF_8)).findFirst().orElse("");
                FakeKarta.json(exchange, 200, "{\"count\":1,\"value\":\"" + issuer.token(audience, c -> { }) + "\"}");
            });

            ActionRunner.Outcome outcome = action(runner()
                    .env("ACTIONS_ID_TOKEN_REQUEST_URL", github.url() + "/token?api-version=2.0")
                    .env("ACTIONS_ID_TOKEN_REQUEST_TOKEN", "runner-request-token"))
                    .input("project", "oidc-shop").input("server", url)
                    .input("cli-url", ARCHIVE.toUri().toString()).github("sha", sha).run();

            assertThat(outcome.succeeded()).as(outcome.toString()).isTrue();
            assertThat(outcome.log()).contains("Released v2");
            assertThat(server.get("/audit_events", TestServer.ADMIN_KEY).body()).contains("\"ci.token\"");
        }
    }

    @Test
    void keyless_path_says_what_is_missing_without_an_oidc_token() throws IOException {
        ActionRunner.Outcome outcome = action(runner()).input("project", "shop").input("server", cli.server().url())
                .input("cli-url", ARCHIVE.toUri().toString()).github("sha", "0123456789abcdef").run();

        assertThat(outcome.succeeded()).isFalse();
        assertThat(outcome.last().stdout()).contains("::error::karta: no api-key given and no OIDC token available: "
                + "add 'permissions: id-token: write' to the job");
    }

    @Test
    void keyless_path_reports_a_refused_exchange_with_the_server_message() throws IOException {
        try (FakeKarta github = new FakeKarta(); FakeKarta karta = new FakeKarta()) {
            github.on("GET", "/token", (exchange, request) -> FakeKarta.json(exchange, 200, "{\"value\":\"a.b.c\"}"));
            karta.on("POST", "/oidc/github/token", (exchange, request) -> FakeKarta.json(exchange, 403,
                    "{\"error\":\"forbidden\",\"message\":\"acme/shop is not trusted by project shop\"}"));

            ActionRunner.Outcome outcome = action(runner()
                    .env("ACTIONS_ID_TOKEN_REQUEST_URL", github.url() + "/token?api-version=2.0")
                    .env("ACTIONS_ID_TOKEN_REQUEST_TOKEN", "runner-request-token"))
                    .input("project", "shop").input("server", karta.url())
                    .input("cli-url", ARCHIVE.toUri().toString()).github("sha", "0123456789abcdef").run();

            assertThat(outcome.succeeded()).isFalse();
            assertThat(outcome.last().stdout()).contains("::error::karta: " + karta.url()
                    + " refused the OIDC token for 'shop' (HTTP 403): ").contains("acme/shop is not trusted by project shop");
            assertThat(karta.requests("POST", "/agent_projects/shop/deploys")).isEmpty();
        }
    }

    @Test
    void a_project_name_karta_would_refuse_stops_before_any_request() throws IOException {
        ActionRunner.Outcome outcome = action(runner()).input("project", "shop\",\"x\":\"y")
                .input("server", cli.server().url()).input("api-key", TestServer.ADMIN_KEY)
                .input("cli-url", ARCHIVE.toUri().toString()).github("sha", "0123456789abcdef").run();

        assertThat(outcome.succeeded()).isFalse();
        assertThat(outcome.last().stdout()).contains("is not a project name");
    }

    private static String realNpm() {
        for (String dir : System.getenv("PATH").split(":")) {
            if (Files.isExecutable(Path.of(dir, "npm"))) {
                return Path.of(dir, "npm").toString();
            }
        }
        throw new AssertionError("no npm on PATH");
    }
}
