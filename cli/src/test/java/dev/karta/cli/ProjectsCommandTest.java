package dev.karta.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import dev.karta.api.Json;
import java.io.BufferedReader;
import java.io.PrintWriter;
import java.io.StringReader;
import java.io.StringWriter;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

class ProjectsCommandTest {
    @RegisterExtension
    static final CliServer cli = new CliServer();

    @Test
    void create_then_list_shows_the_project_in_a_table() {
        Run.Result create = cli.karta().run("projects", "create", "alpha-shop");
        Run.Result list = cli.karta().run("projects", "list");

        assertThat(create.exitCode()).as(create.toString()).isZero();
        assertThat(create.stdout()).startsWith("Created project alpha-shop\n")
                .contains("URL:         " + cli.server().url() + "/v1/projects/alpha-shop")
                .contains("Git remote:  " + cli.server().url() + "/git/alpha-shop.git");
        assertThat(list.exitCode()).isZero();
        String[] lines = list.stdout().split("\n");
        assertThat(lines[0]).matches("NAME +RELEASE +COMMIT +URL +CREATED");
        assertThat(list.stdout()).containsPattern("alpha-shop +- +- +" + cli.server().url() + "/v1/projects/alpha-shop +(just now|\\d+s ago)");
        int urlColumn = lines[0].indexOf("URL");
        for (int i = 1; i < lines.length; i++) {
            assertThat(lines[i].indexOf("http")).as("aligned URL column in: " + lines[i]).isEqualTo(urlColumn);
        }
    }

    @Test
    void list_with_json_prints_the_servers_object() throws Exception {
        cli.karta().run("projects", "create", "json-listed");

        Run.Result list = cli.karta().run("projects", "list", "--json");

        JsonNode body = Json.newMapper().readTree(list.stdout());
        assertThat(body.get("projects").findValuesAsText("name")).contains("json-listed");
        assertThat(list.stdout()).contains("\n  \"projects\": [");
    }

    @Test
    void json_flag_also_works_before_the_command() throws Exception {
        cli.karta().run("projects", "create", "flag-first");

        Run.Result info = cli.karta().run("--json", "projects", "info", "flag-first");

        assertThat(Json.newMapper().readTree(info.stdout()).get("git_url").asText())
                .isEqualTo(cli.server().url() + "/git/flag-first.git");
    }

    @Test
    void info_shows_the_project() {
        cli.karta().run("projects", "create", "info-me");

        Run.Result info = cli.karta().run("projects", "info", "info-me");

        assertThat(info.exitCode()).isZero();
        assertThat(info.stdout()).contains("Name:        info-me").contains("Release:     none yet")
                .contains("Repository:  not bound").contains("Sessions:    none");
    }

    @Test
    void info_of_a_missing_project_exits_4_with_the_servers_message() {
        Run.Result info = cli.karta().run("projects", "info", "no-such-project");

        assertThat(info.exitCode()).isEqualTo(4);
        assertThat(info.stderr()).isEqualTo("karta: project 'no-such-project' not found\n");
        assertThat(info.stdout()).isEmpty();
    }

    @Test
    void creating_a_taken_name_exits_1_with_the_servers_message() {
        cli.karta().run("projects", "create", "taken-name");

        Run.Result again = cli.karta().run("projects", "create", "taken-name");

        assertThat(again.exitCode()).isEqualTo(1);
        assertThat(again.stderr()).isEqualTo("karta: project name 'taken-name' is already taken\n");
    }

    @Test
    void delete_with_yes_removes_the_project() {
        cli.karta().run("projects", "create", "doomed");

        Run.Result delete = cli.karta().run("projects", "delete", "doomed", "--yes");

        assertThat(delete.exitCode()).as(delete.toString()).isZero();
        assertThat(delete.stdout()).isEqualTo("Deleted project doomed\n");
        assertThat(cli.karta().run("projects", "info", "doomed").exitCode()).isEqualTo(4);
    }

    @Test
    void delete_off_a_terminal_without_yes_refuses_with_exit_2() {
        cli.karta().run("projects", "create", "kept");

        Run.Result delete = cli.karta().run("projects", "delete", "kept");

        assertThat(delete.exitCode()).isEqualTo(2);
        assertThat(delete.stderr()).contains("pass --yes");
        assertThat(cli.karta().run("projects", "info", "kept").exitCode()).isZero();
    }

    @Test
    void delete_on_a_terminal_needs_the_name_typed_back() {
        cli.karta().run("projects", "create", "typed-back");
        StringWriter prompt = new StringWriter();

        Run.Result wrong = cli.karta().terminal(terminal("typed-bak\n", prompt))
                .run("projects", "delete", "typed-back");
        assertThat(wrong.exitCode()).isEqualTo(1);
        assertThat(cli.karta().run("projects", "info", "typed-back").exitCode()).isZero();

        Run.Result right = cli.karta().terminal(terminal("typed-back\n", prompt))
                .run("projects", "delete", "typed-back");
        assertThat(right.exitCode()).as(right.toString()).isZero();
        assertThat(prompt.toString()).contains("Type its name to confirm");
        assertThat(cli.karta().terminal(null).run("projects", "info", "typed-back").exitCode()).isEqualTo(4);
    }

    @Test
    void deleting_needs_an_admin_key_and_a_write_key_gets_exit_3() throws Exception {
        cli.karta().run("projects", "create", "guarded");
        String secret = Json.newMapper().readTree(cli.karta()
                .run("keys", "create", "writer", "--scope", "write", "--json").stdout()).get("secret").asText();

        Run.Result delete = new Run(cli.home()).env("KARTA_SERVER", cli.server().url()).env("KARTA_API_KEY", secret)
                .run("projects", "delete", "guarded", "--yes");

        assertThat(delete.exitCode()).isEqualTo(3);
        assertThat(delete.stderr()).contains("needs a key with 'admin' scope");
    }

    private static Terminal terminal(String typed, StringWriter shown) {
        return new Terminal(new BufferedReader(new StringReader(typed)), new PrintWriter(shown));
    }
}
