package dev.karta.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import dev.karta.api.Json;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/** {@code karta config}, {@code config set} and {@code config unset} against a real server. */
class ConfigCommandTest {
    private static final String SECRET = "sk-ant-" + "Cli".repeat(12);
    private static final Pattern KEY = Pattern.compile("kt_live_[A-Za-z0-9]{32}");

    @RegisterExtension
    static final CliServer cli = new CliServer();

    private void publish(String name) throws IOException {
        Path dir = cli.home().resolve(name);
        Files.createDirectories(dir);
        Files.writeString(dir.resolve("CLAUDE.md"), "# " + name + "\n");
        Run.Result published = cli.karta().workingDir(dir).run("publish", name);
        cli.karta().workingDir(cli.home());
        assertThat(published.exitCode()).as(published.toString()).isZero();
    }

    @Test
    void set_makes_a_live_release_and_config_shows_names_with_hidden_values() throws IOException {
        publish("cfg-shop");

        Run.Result set = cli.karta().run("config", "set", "cfg-shop", "ANTHROPIC_API_KEY=" + SECRET, "EMPTY=",
                "WITH_EQUALS=a=b");
        assertThat(set.exitCode()).as(set.toString()).isZero();
        assertThat(set.stdout()).isEqualTo("Set ANTHROPIC_API_KEY, EMPTY, WITH_EQUALS on cfg-shop: v2 is live.\n");
        assertThat(set.stdout() + set.stderr()).doesNotContain(SECRET);

        Run.Result shown = cli.karta().run("config", "cfg-shop");
        assertThat(shown.exitCode()).isZero();
        assertThat(shown.stdout()).startsWith("NAME").containsPattern("ANTHROPIC_API_KEY +<hidden>")
                .containsPattern("EMPTY +<hidden>").doesNotContain(SECRET);

        Run.Result revealed = cli.karta().run("config", "cfg-shop", "--reveal");
        assertThat(revealed.stdout()).containsPattern("ANTHROPIC_API_KEY +" + SECRET).containsPattern("WITH_EQUALS +a=b");

        JsonNode json = Json.newMapper().readTree(cli.karta().run("config", "cfg-shop", "--json").stdout());
        assertThat(json.get("release").asText()).isEqualTo("v2");
        assertThat(json.get("vars").get("ANTHROPIC_API_KEY").isNull()).isTrue();

        Run.Result unset = cli.karta().run("config", "unset", "cfg-shop", "EMPTY");
        assertThat(unset.stdout()).isEqualTo("Unset EMPTY on cfg-shop: v3 is live.\n");
        Run.Result again = cli.karta().run("config", "unset", "cfg-shop", "EMPTY");
        assertThat(again.stdout()).isEqualTo("No change on cfg-shop: v3 stays live.\n");

        Run.Result releases = cli.karta().run("projects", "releases", "cfg-shop", "--json");
        JsonNode v3 = Json.newMapper().readTree(releases.stdout()).get("releases").get(0);
        assertThat(v3.get("source").asText()).isEqualTo("config");
        assertThat(v3.get("description").asText()).isEqualTo("Unset EMPTY");

        assertThat(cli.karta().run("rollback", "cfg-shop", "--to", "v2").exitCode()).isZero();
        assertThat(cli.karta().run("config", "cfg-shop").stdout()).containsPattern("EMPTY +<hidden>");
    }

    @Test
    void reveal_needs_an_admin_key() throws IOException {
        publish("cfg-reveal");
        cli.karta().run("config", "set", "cfg-reveal", "TOKEN=" + SECRET);
        Matcher reader = KEY.matcher(cli.karta().run("keys", "create", "reader", "--scope", "read").stdout());
        assertThat(reader.find()).isTrue();

        Run.Result names = cli.as(reader.group()).run("config", "cfg-reveal");
        Run.Result refused = cli.as(reader.group()).run("config", "cfg-reveal", "--reveal");

        assertThat(names.exitCode()).isZero();
        assertThat(names.stdout()).containsPattern("TOKEN +<hidden>");
        assertThat(refused.exitCode()).isEqualTo(3);
        assertThat(refused.stderr()).contains("admin").doesNotContain(SECRET);
    }

    @Test
    void malformed_arguments_are_usage_errors_that_never_echo_a_value() {
        Run.Result noEquals = cli.karta().run("config", "set", "cfg-any", SECRET);
        assertThat(noEquals.exitCode()).isEqualTo(2);
        assertThat(noEquals.stderr()).contains("argument 1 after the project is not KEY=VALUE").doesNotContain(SECRET);

        Run.Result badName = cli.karta().run("config", "set", "cfg-any", "OK=1", "bad-name=" + SECRET);
        assertThat(badName.exitCode()).isEqualTo(2);
        assertThat(badName.stderr()).contains("'bad-name' is not a config var name").doesNotContain(SECRET);

        Run.Result unsetValue = cli.karta().run("config", "unset", "cfg-any", "A=" + SECRET);
        assertThat(unsetValue.exitCode()).isEqualTo(2);
        assertThat(unsetValue.stderr()).doesNotContain(SECRET);

        Run.Result missing = cli.karta().run("config");
        assertThat(missing.exitCode()).isEqualTo(2);
    }

    @Test
    void server_refusals_name_the_variable() throws IOException {
        publish("cfg-refused");
        Run.Result reserved = cli.karta().run("config", "set", "cfg-refused", "KARTA_X=" + SECRET);
        assertThat(reserved.exitCode()).isEqualTo(1);
        assertThat(reserved.stderr()).contains("KARTA_X").contains("reserved").doesNotContain(SECRET);

        Run.Result unknown = cli.karta().run("config", "nope-project");
        assertThat(unknown.exitCode()).isEqualTo(4);
    }

    @Test
    void config_before_the_first_release_is_kept_for_it() {
        assertThat(cli.karta().run("projects", "create", "cfg-new").exitCode()).isZero();
        Run.Result set = cli.karta().run("config", "set", "cfg-new", "A=1");
        assertThat(set.stdout()).isEqualTo("Set A on cfg-new: kept for its first release.\n");
        Run.Result shown = cli.karta().run("config", "cfg-new");
        assertThat(shown.stdout()).containsPattern("A +<hidden>");
    }
}
