package dev.karta.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import dev.karta.api.Json;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * {@code karta publish}, {@code projects releases} and {@code rollback} end to end: the CLI in
 * process against a real server (SQLite in a temporary folder), each test on its own project.
 */
class ReleaseFlowTest {
    @RegisterExtension
    static final CliServer cli = new CliServer();

    /** A Claude Code app in {@code home/NAME} with a .gitignore'd log file next to it. */
    private Path app(String name) throws IOException {
        Path dir = cli.home().resolve(name);
        Files.createDirectories(dir.resolve(".claude"));
        Files.writeString(dir.resolve("CLAUDE.md"), "# " + name + "\nAnswer politely.\n");
        Files.writeString(dir.resolve(".claude/settings.json"), "{}\n");
        Files.writeString(dir.resolve("karta.toml"), "entry_point = \"CLAUDE.md\"\n");
        Files.writeString(dir.resolve(".gitignore"), "*.log\n");
        Files.writeString(dir.resolve("debug.log"), "never uploaded");
        return dir;
    }

    private Run.Result publish(Path dir, String... more) {
        String[] args = new String[more.length + 1];
        args[0] = "publish";
        System.arraycopy(more, 0, args, 1, more.length);
        Run.Result result = cli.karta().workingDir(dir).run(args);
        cli.karta().workingDir(cli.home());
        return result;
    }

    @Test
    void publish_streams_the_build_log_and_prints_the_release_and_its_url() throws IOException {
        Run.Result publish = publish(app("first-shop"));

        assertThat(publish.exitCode()).as(publish.toString()).isZero();
        assertThat(publish.stdout()).startsWith("  Deploy dep_")
                .contains("\n  Detected harness claude, build kind file_copy\n")
                .endsWith("Released v1 — " + cli.server().url() + "/v1/projects/first-shop\n");
        assertThat(publish.stderr()).contains("Packed 4 files").contains("Building first-shop (dep_");
        JsonNode release = json(cli.karta().run("projects", "releases", "first-shop", "--json")).get("releases").get(0);
        assertThat(release.get("status").asText()).isEqualTo("active");
        assertThat(release.get("harness").asText()).isEqualTo("claude");
        assertThat(release.get("source").asText()).isEqualTo("upload");
    }

    @Test
    void a_broken_karta_toml_fails_the_publish_with_the_reason_and_exit_1() throws IOException {
        Path dir = app("broken-shop");
        Files.writeString(dir.resolve("karta.toml"), "entry_point = \n");

        Run.Result publish = publish(dir);

        assertThat(publish.exitCode()).as(publish.toString()).isEqualTo(1);
        assertThat(publish.stderr()).containsPattern("karta: build failed: karta.toml: line 1, column \\d+: ");
        assertThat(publish.stdout()).doesNotContain("Released");
        assertThat(cli.karta().run("projects", "releases", "broken-shop").stderr())
                .contains("No releases of broken-shop yet");
    }

    @Test
    void publish_with_json_prints_the_finished_deploy() throws IOException {
        Run.Result publish = publish(app("json-shop"), "--json");

        assertThat(publish.exitCode()).as(publish.toString()).isZero();
        JsonNode deploy = json(publish);
        assertThat(deploy.get("project").asText()).isEqualTo("json-shop");
        assertThat(deploy.get("status").asText()).isEqualTo("succeeded");
        assertThat(deploy.get("release").asText()).isEqualTo("v1");
        assertThat(deploy.get("source").asText()).isEqualTo("upload");
        assertThat(deploy.get("id").asText()).startsWith("dep_");
        assertThat(publish.stderr()).contains("Building json-shop");
    }

    @Test
    void releases_lists_newest_first_and_marks_the_active_one() throws IOException {
        Path dir = app("listed-shop");
        assertThat(publish(dir).exitCode()).isZero();
        Files.writeString(dir.resolve("CLAUDE.md"), "# listed-shop\nAnswer briefly.\n");
        assertThat(publish(dir).exitCode()).isZero();

        Run.Result releases = cli.karta().run("projects", "releases", "listed-shop");

        assertThat(releases.exitCode()).as(releases.toString()).isZero();
        assertThat(releases.stdout().lines().toList()).hasSize(3);
        assertThat(releases.stdout().lines().toList().get(0))
                .matches("VERSION +STATUS +COMMIT +HARNESS +BUILD +SOURCE +AGE");
        assertThat(releases.stdout().lines().toList().get(1))
                .matches("v2 +\\* active +[0-9a-f]{7} +claude +file_copy +upload +(just now|\\d+s ago)");
        assertThat(releases.stdout().lines().toList().get(2))
                .matches("v1 +superseded +[0-9a-f]{7} +claude +file_copy +upload +(just now|\\d+s ago)");
    }

    @Test
    void releases_with_json_prints_the_servers_list() throws IOException {
        assertThat(publish(app("json-releases")).exitCode()).isZero();

        Run.Result releases = cli.karta().run("projects", "releases", "json-releases", "--json");

        assertThat(releases.exitCode()).isZero();
        JsonNode list = json(releases).get("releases");
        assertThat(list).hasSize(1);
        assertThat(list.get(0).get("version").asText()).isEqualTo("v1");
        assertThat(list.get(0).get("commit_sha").asText()).isNotBlank();
        assertThat(list.get(0).get("content_digest").asText()).startsWith("sha256:");
    }

    @Test
    void rollback_activates_the_earlier_release_without_a_new_version() throws IOException {
        Path dir = app("shop");
        assertThat(publish(dir).exitCode()).isZero();
        Files.writeString(dir.resolve("CLAUDE.md"), "# shop\nv2\n");
        assertThat(publish(dir).stdout()).contains("Released v2");

        Run.Result rollback = cli.karta().run("rollback", "shop", "--to", "v1");

        assertThat(rollback.exitCode()).as(rollback.toString()).isZero();
        assertThat(rollback.stdout()).isEqualTo("shop: v1 active (was v2)\nPinned to v1: deploys build but do not "
                + "go live until `karta releases activate shop VERSION` or `karta unpin shop`\n");
        assertThat(cli.karta().run("projects", "releases", "shop").stdout())
                .containsPattern("\nv2 +superseded ").containsPattern("\nv1 +\\* active ");
        assertThat(cli.karta().run("rollback", "shop", "--to", "1", "--no-pin").stdout())
                .isEqualTo("shop: v1 already active\n");
        assertThat(json(cli.karta().run("projects", "releases", "shop", "--json")).get("releases")).hasSize(2);
    }

    @Test
    void rollback_with_a_write_key_exits_3() throws IOException {
        assertThat(publish(app("guarded-shop")).exitCode()).isZero();
        String writeKey = json(cli.karta().run("keys", "create", "ci", "--scope", "write", "--json"))
                .get("secret").asText();

        Run.Result rollback = new Run(cli.home()).env("KARTA_SERVER", cli.server().url()).env("KARTA_API_KEY", writeKey)
                .run("rollback", "guarded-shop", "--to", "v1");

        assertThat(rollback.exitCode()).as(rollback.toString()).isEqualTo(3);
        assertThat(rollback.stderr()).startsWith("karta: ").contains("admin");
    }

    @Test
    void rollback_to_an_unknown_version_exits_4() throws IOException {
        assertThat(publish(app("short-shop")).exitCode()).isZero();

        Run.Result rollback = cli.karta().run("rollback", "short-shop", "--to", "v9");

        assertThat(rollback.exitCode()).as(rollback.toString()).isEqualTo(4);
        assertThat(rollback.stderr()).startsWith("karta: ").contains("v9");
        assertThat(rollback.stdout()).isEmpty();
    }

    private static JsonNode json(Run.Result result) {
        try {
            return Json.newMapper().readTree(result.stdout());
        } catch (IOException e) {
            throw new AssertionError("not JSON: " + result, e);
        }
    }
}
