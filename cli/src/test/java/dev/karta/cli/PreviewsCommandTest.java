package dev.karta.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import dev.karta.api.Json;
import java.io.IOException;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * {@code karta previews list | create | delete} and {@code karta releases promote} end to end
 * against a real server, building commits of a real git repository bound by a {@code file://} URL.
 */
class PreviewsCommandTest {
    @RegisterExtension
    static final CliServer cli = new CliServer();

    @Test
    void create_wait_list_promote_and_delete_a_preview() throws IOException {
        assertThat(cli.karta().run("projects", "create", "pv-shop").exitCode()).isZero();
        TestGit git = new TestGit(cli.home());
        Path repo = git.newApp(cli.home().resolve("pv-upstream"));
        String sha = git.run(repo, "rev-parse", "HEAD").ok().line();
        assertThat(cli.karta().run("repo", "bind", "pv-shop", repo.toUri().toString()).exitCode()).isZero();

        Run.Result created = cli.karta().run("previews", "create", "pv-shop", "--pr", "42", "--commit", sha, "--wait");
        Run.Result list = cli.karta().run("previews", "list", "pv-shop");
        Run.Result noSessions = cli.karta().run("sessions", "list", "pv-shop", "--preview", "pr-42");
        Run.Result unknownPreview = cli.karta().run("sessions", "list", "pv-shop", "--preview", "pr-43");
        Run.Result json = cli.karta().run("previews", "list", "pv-shop", "--json");
        Run.Result promoted = cli.karta().run("releases", "promote", "pv-shop", "pr-42");
        Run.Result deleted = cli.karta().run("previews", "delete", "pv-shop", "pr-42");
        Run.Result after = cli.karta().run("previews", "list", "pv-shop", "--json");
        Run.Result missing = cli.karta().run("previews", "delete", "pv-shop", "pr-7");

        String url = cli.server().url() + "/v1/projects/pv-shop/previews/pr-42";
        assertThat(created.exitCode()).as(created.toString()).isZero();
        assertThat(created.stdout()).endsWith("Preview pr-42.1 ready — " + url + "\n");
        assertThat(list.stdout()).contains("NAME").contains("pr-42").contains("ready").contains("pr-42.1")
                .contains(url);
        assertThat(noSessions.exitCode()).as(noSessions.toString()).isZero();
        assertThat(noSessions.stderr()).contains("No sessions of pr-42 of pv-shop yet.");
        assertThat(unknownPreview.exitCode()).isEqualTo(4);
        JsonNode previews = Json.newMapper().readTree(json.stdout()).get("previews");
        assertThat(previews.get(0).get("commit_sha").asText()).isEqualTo(sha);
        assertThat(promoted.exitCode()).as(promoted.toString()).isZero();
        assertThat(promoted.stdout()).isEqualTo("pv-shop: v1 active, promoted from pr-42.1\n");
        assertThat(deleted.stdout()).isEqualTo("Expired preview pr-42 of pv-shop\n");
        assertThat(Json.newMapper().readTree(after.stdout()).get("previews").get(0).get("status").asText())
                .isEqualTo("expired");
        assertThat(missing.exitCode()).isEqualTo(4);
    }

    @Test
    void a_failed_preview_build_exits_non_zero_with_the_reason() {
        assertThat(cli.karta().run("projects", "create", "pv-broken").exitCode()).isZero();

        Run.Result created = cli.karta().run("previews", "create", "pv-broken", "--pr", "1", "--commit",
                "a".repeat(40), "--wait");

        assertThat(created.exitCode()).isEqualTo(1);
        assertThat(created.stderr()).contains("preview build failed");
    }
}
