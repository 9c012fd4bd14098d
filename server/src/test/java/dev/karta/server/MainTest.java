package dev.karta.server;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

class MainTest {
    @TempDir
    Path dir;

    private Config parse(String... args) {
        Main main = new Main();
        new CommandLine(main).parseArgs(args);
        return main.config();
    }

    /** The data dir, database and secrets key file a subcommand of {@code karta server} works on. */
    private static Config subcommandConfig(String... args) {
        Main main = new Main();
        CommandLine.ParseResult parsed = new CommandLine(main).parseArgs(args);
        assertThat(parsed.subcommand()).as("a subcommand was parsed").isNotNull();
        return main.config();
    }

    @Test
    void installation_options_may_follow_the_subcommand() {
        Path keyFile = dir.resolve("other.key");
        Config after = subcommandConfig("create-org", "acme", "--data-dir", dir.toString(), "--database",
                "jdbc:sqlite:" + dir.resolve("x.db"), "--secrets-key-file", keyFile.toString(), "--storage", "local");

        assertThat(after.dataDir()).isEqualTo(dir.toAbsolutePath());
        assertThat(after.databaseUrl()).isEqualTo("jdbc:sqlite:" + dir.resolve("x.db"));
        assertThat(after.secretsKeyFile()).isEqualTo(keyFile.toAbsolutePath());
        assertThat(subcommandConfig("export", "--to", "x.zip", "--data-dir", dir.toString()).dataDir())
                .isEqualTo(dir.toAbsolutePath());
    }

    @Test
    void installation_options_before_the_subcommand_are_not_reset_by_its_defaults() {
        Config before = subcommandConfig("--data-dir", dir.toString(), "create-org", "acme");

        assertThat(before.dataDir()).isEqualTo(dir.toAbsolutePath());
        assertThat(before.databaseUrl()).isEqualTo(Config.sqliteUrl(dir.toAbsolutePath()));
    }

    @Test
    void create_org_help_lists_the_data_dir_option() {
        String usage = new CommandLine(new Main()).getSubcommands().get("create-org").getUsageMessage();

        assertThat(usage).contains("--data-dir", "--database");
    }

    @Test
    void builder_as_a_json_array_keeps_arguments_with_spaces() {
        Config config = parse("--data-dir", dir.toString(), "--builder",
                "[\"docker\",\"build\",\"--label\",\"made by karta\",\"-t\",\"{image_ref}\",\"{context}\"]");

        assertThat(config.builderCommand())
                .containsExactly("docker", "build", "--label", "made by karta", "-t", "{image_ref}", "{context}");
    }

    @Test
    void builder_as_words_is_split_on_whitespace_as_before() {
        Config config = parse("--data-dir", dir.toString(), "--builder", "  docker build\t-t {image_ref}  {context} ");

        assertThat(config.builderCommand()).containsExactly("docker", "build", "-t", "{image_ref}", "{context}");
    }

    @Test
    void no_builder_is_an_empty_argv() {
        assertThat(parse("--data-dir", dir.toString()).builderCommand()).isEmpty();
    }

    @Test
    void builder_json_that_is_not_an_array_of_strings_is_refused_naming_the_option() {
        assertThatThrownBy(() -> parse("--data-dir", dir.toString(), "--builder", "[\"docker\", 3]"))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("--builder")
                .hasMessageContaining("array of strings");
        assertThatThrownBy(() -> parse("--data-dir", dir.toString(), "--builder", "[\"docker\""))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("--builder");
        assertThatThrownBy(() -> parse("--data-dir", dir.toString(), "--builder", "[]"))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("non-empty");
    }

    @Test
    void builder_help_documents_the_json_form() {
        String usage = new CommandLine(new Main()).getUsageMessage();
        assertThat(usage).contains("--builder").contains("JSON array");
    }

    @Test
    void no_flags_and_no_environment_give_the_config_defaults() {
        assumeTrue(System.getenv().keySet().stream().noneMatch(name -> name.startsWith("KARTA_")),
                "KARTA_* variables are set in this environment");

        assertThat(parse("--data-dir", dir.toString())).isEqualTo(Config.defaults(dir.toAbsolutePath()));
    }

    @Test
    void workspace_flags_set_the_workspace_settings() {
        Config config = parse("--data-dir", dir.toString(), "--workspaces-dir", dir.resolve("ws").toString(),
                "--max-workspace-bytes", "5000000", "--max-workspaces", "7", "--max-session-state-bytes", "100000",
                "--workspace-copies");

        assertThat(config.workspaces()).isEqualTo(new Config.Workspaces(dir.resolve("ws").toAbsolutePath(), 5_000_000, 7,
                100_000, true));
        assertThat(Config.defaults(dir).workspaces().dirIn(dir)).isEqualTo(dir.resolve("workspaces"));
        assertThatThrownBy(() -> parse("--data-dir", dir.toString(), "--max-workspaces", "0"))
                .hasMessageContaining("--max-workspaces");
    }

    @Test
    void help_shows_the_config_defaults() {
        String usage = new CommandLine(new Main()).getUsageMessage();
        assertThat(usage).contains("default 64 MiB").contains("default 256 MiB").contains("default 25 MiB")
                .contains("KARTA_BUILD_TIMEOUT, default " + Config.DEFAULT_BUILD_TIMEOUT);
    }

    @Test
    void the_default_data_dir_is_under_home_as_the_environment_says() throws IOException, InterruptedException {
        // A child JVM whose HOME differs from the account's home (user.home), as under sudo or in CI.
        ProcessBuilder help = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-Dpicocli.usage.width=1000", "-cp", System.getProperty("java.class.path"), "dev.karta.server.Main", "--help")
                .redirectErrorStream(true);
        help.environment().keySet().removeIf(name -> name.startsWith("KARTA_"));
        help.environment().put("HOME", dir.toString());
        Process child = help.start();
        String usage = new String(child.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(child.waitFor()).as(usage).isZero();

        assertThat(usage).contains("default " + dir.resolve(".local/share/karta") + ", from $HOME");
    }
}
