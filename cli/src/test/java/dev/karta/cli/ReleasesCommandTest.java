package dev.karta.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import dev.karta.api.Json;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * {@code karta rollback} with its pin, {@code --no-pin} and {@code --dry-run}, {@code karta releases
 * list | activate | diff} and {@code karta unpin}, end to end against a real server.
 */
class ReleasesCommandTest {
    @RegisterExtension
    static final CliServer cli = new CliServer();

    private Path app(String name) throws IOException {
        Path dir = cli.home().resolve(name);
        Files.createDirectories(dir.resolve(".claude"));
        Files.writeString(dir.resolve("CLAUDE.md"), "# " + name + "\n");
        Files.writeString(dir.resolve(".claude/settings.json"), "{}\n");
        return dir;
    }

    private Run.Result publish(Path dir) {
        Run.Result result = cli.karta().workingDir(dir).run("publish");
        cli.karta().workingDir(cli.home());
        assertThat(result.exitCode()).as(result.toString()).isZero();
        return result;
    }

    /** v1, then v2 with CLAUDE.md changed and notes.md added. */
    private Path twoReleases(String name) throws IOException {
        Path dir = app(name);
        publish(dir);
        Files.writeString(dir.resolve("CLAUDE.md"), "# " + name + ", second\n");
        Files.writeString(dir.resolve("notes.md"), "notes");
        publish(dir);
        return dir;
    }

    private static JsonNode json(Run.Result result) throws IOException {
        return Json.newMapper().readTree(result.stdout());
    }

    @Test
    void rollback_pins_the_project_and_every_surface_shows_it_until_an_activation() throws IOException {
        Path dir = twoReleases("pin-shop");
        String keyId = json(cli.karta().run("whoami", "--json")).get("key").get("id").asText();

        Run.Result rollback = cli.karta().run("rollback", "pin-shop", "--to", "v1");

        assertThat(rollback.exitCode()).as(rollback.toString()).isZero();
        assertThat(rollback.stdout()).isEqualTo("pin-shop: v1 active (was v2)\nPinned to v1: deploys build but do not "
                + "go live until `karta releases activate pin-shop VERSION` or `karta unpin pin-shop`\n");
        assertThat(cli.karta().run("projects", "info", "pin-shop").stdout())
                .containsPattern("Pinned: +v1 by " + keyId + " at \\S+Z; deploys build but do not go live\n");

        Files.writeString(dir.resolve("CLAUDE.md"), "# pin-shop, third\n");
        Run.Result third = cli.karta().workingDir(dir).run("publish");
        assertThat(third.exitCode()).as(third.toString()).isZero();
        assertThat(third.stdout()).contains("  pin-shop is pinned to v1 (rolled back by " + keyId + "); v3 is built "
                        + "but not live.")
                .endsWith("Built v3, not live: pin-shop is pinned to v1 (`karta releases activate pin-shop v3` or "
                        + "`karta unpin pin-shop`) — " + cli.server().url() + "/v1/projects/pin-shop\n");

        Run.Result releases = cli.karta().run("releases", "list", "pin-shop");
        assertThat(releases.stdout()).startsWith("Pinned to v1 by " + keyId + " at ")
                .containsPattern("\nv3 +built ").containsPattern("\nv2 +superseded ").containsPattern("\nv1 +\\* active ");
        assertThat(releases.stdout()).isEqualTo(cli.karta().run("projects", "releases", "pin-shop").stdout());

        Run.Result activate = cli.karta().run("releases", "activate", "pin-shop", "v3");
        assertThat(activate.exitCode()).as(activate.toString()).isZero();
        assertThat(activate.stdout()).isEqualTo("pin-shop: v3 active (was v1), not pinned\n");
        assertThat(cli.karta().run("projects", "info", "pin-shop").stdout()).contains("Pinned:      no\n");
        assertThat(cli.karta().run("projects", "releases", "pin-shop").stdout()).doesNotContain("Pinned");
    }

    @Test
    void unpin_activates_the_newest_release() throws IOException {
        Path dir = twoReleases("unpin-shop");
        cli.karta().run("rollback", "unpin-shop", "--to", "v1");
        Files.writeString(dir.resolve("CLAUDE.md"), "# unpin-shop, third\n");
        publish(dir);

        Run.Result unpin = cli.karta().run("unpin", "unpin-shop");

        assertThat(unpin.exitCode()).as(unpin.toString()).isZero();
        assertThat(unpin.stdout()).isEqualTo("unpin-shop: not pinned; v3 active (was v1)\n");
        assertThat(cli.karta().run("unpin", "unpin-shop").stdout()).isEqualTo("unpin-shop: not pinned; v3 stays active\n");
        assertThat(json(cli.karta().run("projects", "info", "unpin-shop", "--json")).get("pinned").isNull()).isTrue();
    }

    @Test
    void rollback_with_no_pin_lets_the_next_publish_go_live() throws IOException {
        Path dir = twoReleases("nopin-shop");

        Run.Result rollback = cli.karta().run("rollback", "nopin-shop", "--to", "v1", "--no-pin");

        assertThat(rollback.stdout()).isEqualTo("nopin-shop: v1 active (was v2)\n");
        Files.writeString(dir.resolve("CLAUDE.md"), "# nopin-shop, third\n");
        assertThat(publish(dir).stdout()).contains("Released v3");
    }

    @Test
    void dry_run_prints_the_diff_and_the_sessions_that_stay_and_changes_nothing() throws IOException {
        twoReleases("dry-shop");

        Run.Result dry = cli.karta().run("rollback", "dry-shop", "--to", "v1", "--dry-run");

        assertThat(dry.exitCode()).as(dry.toString()).isZero();
        assertThat(dry.stdout()).isEqualTo("""
                Dry run: nothing changed. Rolling dry-shop back to v1 (active: v2) would change:
                Commits: not compared: commit %s is not in dry-shop's repository: nothing was ever pushed to it
                Files: 0 added, 1 removed, 1 changed
                  - notes.md (5 B)
                  ~ CLAUDE.md (19 B -> 11 B)
                Config: no change
                Live sessions: 0 stay on v2 (a session keeps its release)
                Pin: dry-shop would be pinned to v1 (deploys build but do not go live; --no-pin to not pin)
                """.formatted(shortCommit("dry-shop", "v2")));
        JsonNode info = json(cli.karta().run("projects", "info", "dry-shop", "--json"));
        assertThat(info.get("current_release").get("version").asText()).isEqualTo("v2");
        assertThat(info.get("pinned").isNull()).isTrue();
        JsonNode asJson = json(cli.karta().run("rollback", "dry-shop", "--to", "v1", "--dry-run", "--no-pin", "--json"));
        assertThat(asJson.get("dry_run").asBoolean()).isTrue();
        assertThat(asJson.get("pin").asBoolean()).isFalse();
        assertThat(asJson.get("diff").get("files").get("changed_count").asInt()).isEqualTo(1);
    }

    private String shortCommit(String project, String version) throws IOException {
        return json(cli.karta().run("projects", "releases", project, "--json")).get("releases")
                .get(Integer.parseInt(version.substring(1)) == 2 ? 0 : 1).get("commit_sha").asText().substring(0, 7);
    }

    @Test
    void releases_diff_prints_files_with_sizes_and_json_with_the_flag() throws IOException {
        twoReleases("diff-shop");

        Run.Result diff = cli.karta().run("releases", "diff", "diff-shop", "v1", "v2");

        assertThat(diff.exitCode()).as(diff.toString()).isZero();
        assertThat(diff.stdout()).startsWith("diff-shop: v1 -> v2\nCommits: not compared: ")
                .contains("""
                        Files: 1 added, 0 removed, 1 changed
                          + notes.md (5 B)
                          ~ CLAUDE.md (12 B -> 20 B)
                        Config: no change
                        """);
        JsonNode asJson = json(cli.karta().run("releases", "diff", "diff-shop", "1", "2", "--json"));
        assertThat(asJson.get("files").get("added").get(0).get("path").asText()).isEqualTo("notes.md");
        Run.Result missing = cli.karta().run("releases", "diff", "diff-shop", "v1", "v9");
        assertThat(missing.exitCode()).isEqualTo(4);
    }

    @Test
    void releases_whose_files_are_gone_are_marked_and_rolling_back_to_them_fails() throws IOException {
        twoReleases("gone-shop");
        String digest = json(cli.karta().run("projects", "releases", "gone-shop", "--json")).get("releases").get(1)
                .get("content_digest").asText();
        deleteTree(cli.dataDir().resolve("trees").resolve(digest.substring("sha256:".length())));

        Run.Result releases = cli.karta().run("projects", "releases", "gone-shop");
        Run.Result rollback = cli.karta().run("rollback", "gone-shop", "--to", "v1");

        assertThat(releases.stdout().lines().toList().get(0))
                .matches("VERSION +STATUS +COMMIT +HARNESS +BUILD +SOURCE +AGE +ROLLBACK");
        assertThat(releases.stdout()).containsPattern("\nv2 +\\* active .* yes\n")
                .contains("no: files missing from storage (tree " + digest + " not found)\n");
        assertThat(rollback.exitCode()).isEqualTo(1);
        assertThat(rollback.stderr()).isEqualTo("karta: release v1 can no longer be activated: files missing from "
                + "storage (tree " + digest + " not found)\n");
    }

    @Test
    void activate_and_unpin_need_an_admin_key() throws IOException {
        twoReleases("guard-shop");
        String writeKey = json(cli.karta().run("keys", "create", "ci", "--scope", "write", "--json")).get("secret")
                .asText();

        assertThat(cli.as(writeKey).run("releases", "activate", "guard-shop", "v1").exitCode()).isEqualTo(3);
        assertThat(cli.as(writeKey).run("unpin", "guard-shop").exitCode()).isEqualTo(3);
    }

    private static void deleteTree(Path dir) throws IOException {
        try (Stream<Path> paths = Files.walk(dir)) {
            paths.filter(Files::isDirectory).forEach(folder -> folder.toFile().setWritable(true));
        }
        try (Stream<Path> paths = Files.walk(dir)) {
            for (Path path : paths.sorted(Comparator.reverseOrder()).toList()) {
                Files.delete(path);
            }
        }
    }
}
