package dev.karta.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import dev.karta.api.Json;
import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * {@code karta repo bind | show | rotate-secret | unbind} end to end against a real server, with
 * a GitHub URL and a {@code file://} git URL to a real repository outside the data directory.
 */
class RepoCommandTest {
    @RegisterExtension
    static final CliServer cli = new CliServer();

    private void project(String name) {
        Run.Result create = cli.karta().run("projects", "create", name);
        assertThat(create.exitCode()).as(create.toString()).isZero();
    }

    @Test
    void bind_a_github_repository_prints_the_webhook_to_paste_with_its_secret_once() {
        project("gh-shop");

        Run.Result bind = cli.karta().run("repo", "bind", "gh-shop", "https://github.com/acme/shop-agent.git");

        assertThat(bind.exitCode()).as(bind.toString()).isZero();
        List<String> lines = bind.stdout().lines().toList();
        assertThat(lines.get(0)).isEqualTo("Bound gh-shop to https://github.com/acme/shop-agent (branch main, fetched from GitHub)");
        assertThat(lines.get(1)).isEmpty();
        assertThat(lines.get(2)).isEqualTo("Add this webhook on GitHub (repository Settings → Webhooks → Add webhook):");
        assertThat(lines.get(3)).isEqualTo("Payload URL:   " + cli.server().url() + "/webhooks/github");
        assertThat(lines.get(4)).isEqualTo("Content type:  application/json");
        assertThat(lines.get(5)).matches("Secret:        [0-9a-f]{64}  \\(shown once\\)");
        assertThat(lines.get(6)).isEqualTo("Events:        Pushes, and Pull requests for previews (docs/previews.md)");
        assertThat(lines).hasSize(7);
    }

    @Test
    void show_rotate_and_unbind_a_github_binding() {
        project("cycle-shop");
        String secret = secretIn(cli.karta().run("repo", "bind", "cycle-shop", "acme/shop-agent", "--branch", "release/v2"));

        Run.Result show = cli.karta().run("repo", "show", "cycle-shop");
        Run.Result rotate = cli.karta().run("repo", "rotate-secret", "cycle-shop");
        Run.Result unbind = cli.karta().run("repo", "unbind", "cycle-shop");
        Run.Result showAfter = cli.karta().run("repo", "show", "cycle-shop");
        Run.Result unbindAgain = cli.karta().run("repo", "unbind", "cycle-shop");
        Run.Result rotateAfter = cli.karta().run("repo", "rotate-secret", "cycle-shop");

        assertThat(show.exitCode()).as(show.toString()).isZero();
        assertThat(show.stdout()).startsWith("Project:         cycle-shop\n"
                        + "Repo:            https://github.com/acme/shop-agent\n"
                        + "Branch:          release/v2\n"
                        + "Source:          github\n"
                        + "Webhook:         " + cli.server().url() + "/webhooks/github\n")
                .containsPattern("\nBound:           \\d{4}-\\d\\d-\\d\\dT[0-9:.]+Z \\((just now|\\d+s ago)\\)\n")
                .containsPattern("\nSecret rotated:  \\d{4}-.*Z \\((just now|\\d+s ago)\\)\n")
                .doesNotContain(secret);
        assertThat(rotate.exitCode()).as(rotate.toString()).isZero();
        assertThat(rotate.stdout()).matches("New webhook secret for cycle-shop \\(shown once\\): [0-9a-f]{64}\n")
                .doesNotContain(secret);
        assertThat(unbind.exitCode()).as(unbind.toString()).isZero();
        assertThat(unbind.stdout()).isEqualTo("Unbound cycle-shop\n");
        assertThat(cli.karta().run("projects", "info", "cycle-shop").stdout()).contains("Repository:  not bound");
        for (Run.Result notBound : List.of(showAfter, unbindAgain, rotateAfter)) {
            assertThat(notBound.exitCode()).as(notBound.toString()).isEqualTo(4);
            assertThat(notBound.stderr()).isEqualTo("karta: project 'cycle-shop' is not bound to a repository: bind one "
                    + "with PUT /agent_projects/cycle-shop/repo (karta repo bind cycle-shop URL)\n");
        }
    }

    @Test
    void a_file_git_url_outside_the_data_directory_binds_and_deploys_by_commit() {
        project("git-shop");
        TestGit git = new TestGit(cli.home());
        Path repo = git.newApp(cli.home().resolve("upstream"));
        String sha = git.run(repo, "rev-parse", "HEAD").ok().line();
        String url = repo.toUri().toString();

        Run.Result bind = cli.karta().run("repo", "bind", "git-shop", url);
        Run.Result show = cli.karta().run("repo", "show", "git-shop");
        Run.Result deploy = cli.karta().run("deploy", "git-shop", "--commit", sha.substring(0, 8), "--wait");

        assertThat(bind.exitCode()).as(bind.toString()).isZero();
        String display = show.stdout().lines().filter(line -> line.startsWith("Repo:")).findFirst().orElseThrow()
                .substring("Repo:".length()).strip();
        assertThat(display).isEqualTo(url);
        assertThat(bind.stdout()).startsWith("Bound git-shop to " + display + " (branch main, fetched with git)\n\n"
                + "To deploy on push, add this webhook where the repository is hosted (GitHub or compatible):\n"
                + "Payload URL:   " + cli.server().url() + "/webhooks/github\n");
        assertThat(show.stdout()).contains("Source:          git\n");
        assertThat(deploy.exitCode()).as(deploy.toString()).isZero();
        assertThat(deploy.stdout()).endsWith("Released v1 — " + cli.server().url() + "/v1/projects/git-shop\n");
    }

    @Test
    void json_prints_the_servers_answers_and_show_never_holds_the_secret() throws IOException {
        project("json-repo");

        Run.Result bind = cli.karta().run("repo", "bind", "json-repo", "acme/json", "--json");
        Run.Result show = cli.karta().run("repo", "show", "json-repo", "--json");
        Run.Result rotate = cli.karta().run("repo", "rotate-secret", "json-repo", "--json");
        Run.Result unbind = cli.karta().run("repo", "unbind", "json-repo", "--json");

        JsonNode bound = Json.newMapper().readTree(bind.stdout());
        assertThat(bound.get("project").asText()).isEqualTo("json-repo");
        assertThat(bound.get("repo").get("url").asText()).isEqualTo("https://github.com/acme/json");
        assertThat(bound.get("repo").get("branch").asText()).isEqualTo("main");
        assertThat(bound.get("source").asText()).isEqualTo("github");
        assertThat(bound.get("webhook_url").asText()).isEqualTo(cli.server().url() + "/webhooks/github");
        assertThat(bound.get("webhook_secret").asText()).hasSize(64);
        JsonNode shown = Json.newMapper().readTree(show.stdout());
        assertThat(shown.has("webhook_secret")).isFalse();
        assertThat(shown.get("repo")).isEqualTo(bound.get("repo"));
        JsonNode rotated = Json.newMapper().readTree(rotate.stdout());
        assertThat(rotated.get("webhook_secret").asText()).hasSize(64).isNotEqualTo(bound.get("webhook_secret").asText());
        assertThat(unbind.exitCode()).as(unbind.toString()).isZero();
        assertThat(unbind.stdout()).isEmpty();
    }

    @Test
    void refusals_print_the_servers_message_with_the_usual_exit_codes() {
        project("guarded-repo");
        Run.Result created = cli.karta().run("keys", "create", "reader", "--scope", "read", "--json");
        String readKey;
        try {
            readKey = Json.newMapper().readTree(created.stdout()).get("secret").asText();
        } catch (IOException e) {
            throw new AssertionError(created.toString(), e);
        }

        Run.Result unknownProject = cli.karta().run("repo", "bind", "no-such-repo", "acme/shop");
        Run.Result badUrl = cli.karta().run("repo", "bind", "guarded-repo", "not a url");
        Run.Result intoDataDir = cli.karta().run("repo", "bind", "guarded-repo", cli.dataDir().toUri().toString());
        Run.Result badBranch = cli.karta().run("repo", "bind", "guarded-repo", "acme/shop", "--branch", "a..b");
        Run.Result readOnly = cli.as(readKey).run("repo", "bind", "guarded-repo", "acme/shop");
        Run.Result missingUrl = cli.karta().run("repo", "bind", "guarded-repo");

        assertThat(unknownProject.exitCode()).as(unknownProject.toString()).isEqualTo(4);
        assertThat(unknownProject.stderr()).isEqualTo("karta: project 'no-such-repo' not found\n");
        assertThat(badUrl.exitCode()).as(badUrl.toString()).isEqualTo(1);
        assertThat(badUrl.stderr()).startsWith("karta: ").contains("Examples: ");
        assertThat(intoDataDir.exitCode()).as(intoDataDir.toString()).isEqualTo(1);
        assertThat(intoDataDir.stderr()).isEqualTo("karta: file URLs may not point into the server's data directory\n");
        assertThat(badBranch.exitCode()).as(badBranch.toString()).isEqualTo(1);
        assertThat(badBranch.stderr()).startsWith("karta: branch 'a..b' is not a valid git branch name");
        assertThat(readOnly.exitCode()).as(readOnly.toString()).isEqualTo(3);
        assertThat(missingUrl.exitCode()).isEqualTo(2);
        assertThat(missingUrl.stderr()).startsWith("karta: Missing required parameter: 'URL'");
        assertThat(cli.karta().run("repo", "show", "guarded-repo").exitCode()).isEqualTo(4);
    }

    @Test
    void bind_with_token_stdin_stores_the_token_and_never_prints_it() throws IOException {
        project("token-shop");
        String token = "ghp_" + "k".repeat(36);

        Run.Result bind = cli.karta().stdin("\n" + token + "\n").run("repo", "bind", "token-shop", "other-org/private-shop",
                "--token-stdin");
        Run.Result show = cli.karta().run("repo", "show", "token-shop");
        Run.Result json = cli.karta().run("repo", "show", "token-shop", "--json");

        assertThat(bind.exitCode()).as(bind.toString()).isZero();
        assertThat(bind.stdout()).startsWith("Bound token-shop to https://github.com/other-org/private-shop (branch main, "
                + "fetched from GitHub with its token)\n");
        assertThat(show.stdout()).contains("Credentials:     a token (stored encrypted, never shown)\n");
        assertThat(Json.newMapper().readTree(json.stdout()).get("credentials").asBoolean()).isTrue();
        for (Run.Result result : List.of(bind, show, json)) {
            assertThat(result.stdout() + result.stderr()).doesNotContain(token);
        }
    }

    @Test
    void bind_with_token_stdin_and_nothing_on_stdin_is_a_usage_error() {
        project("tokenless-shop");

        Run.Result bind = cli.karta().stdin("").run("repo", "bind", "tokenless-shop", "acme/shop", "--token-stdin");

        assertThat(bind.exitCode()).as(bind.toString()).isEqualTo(2);
        assertThat(bind.stderr()).startsWith("karta: --token-stdin read no token from standard input");
        assertThat(cli.karta().run("repo", "show", "tokenless-shop").exitCode()).isEqualTo(4);
    }

    private static String secretIn(Run.Result bind) {
        assertThat(bind.exitCode()).as(bind.toString()).isZero();
        return bind.stdout().lines().filter(line -> line.startsWith("Secret:")).findFirst().orElseThrow()
                .replaceAll("Secret: +([0-9a-f]+) .*", "$1");
    }
}
