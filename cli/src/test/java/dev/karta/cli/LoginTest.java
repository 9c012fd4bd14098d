package dev.karta.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.BufferedReader;
import java.io.PrintWriter;
import java.io.StringReader;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

class LoginTest {
    @RegisterExtension
    static final CliServer cli = new CliServer();

    @Test
    void login_reads_the_key_from_stdin_and_saves_it_privately() throws Exception {
        Run karta = new Run(cli.home()).stdin(TestServer.ADMIN_KEY + "\n");

        Run.Result login = karta.run("login", "--server", cli.server().url());

        assertThat(login.exitCode()).as(login.toString()).isZero();
        assertThat(login.stdout().strip())
                .isEqualTo("Logged in to " + cli.server().url() + " as admin (org default, scope admin)");
        Path config = karta.configFile();
        assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(config))).isEqualTo("rw-------");
        assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(config.getParent())))
                .isEqualTo("rwx------");
        assertThat(Files.readString(config))
                .contains("server = \"" + cli.server().url() + "\"")
                .contains("api_key = \"" + TestServer.ADMIN_KEY + "\"");

        Run.Result whoami = karta.run("whoami");
        assertThat(whoami.exitCode()).as(whoami.toString()).isZero();
        assertThat(whoami.stdout()).contains("Org:     default").contains("Scope:   admin").contains(cli.server().url());
    }

    @Test
    void login_on_a_terminal_asks_for_the_key() {
        StringWriter shown = new StringWriter();
        Terminal terminal = new Terminal(new BufferedReader(new StringReader(TestServer.ADMIN_KEY + "\n")),
                new PrintWriter(shown));
        Run karta = new Run(cli.home()).terminal(terminal);

        Run.Result login = karta.run("login", "--server", cli.server().url());

        assertThat(login.exitCode()).as(login.toString()).isZero();
        assertThat(shown.toString()).contains("API key: ");
        assertThat(karta.configFile()).exists();
    }

    @Test
    void login_with_a_wrong_key_exits_3_and_writes_nothing() {
        Run karta = new Run(cli.home()).stdin("kt_live_WrongKey0123456789abcdefABCDEFGH\n");

        Run.Result login = karta.run("login", "--server", cli.server().url());

        assertThat(login.exitCode()).as(login.toString()).isEqualTo(3);
        assertThat(login.stderr()).startsWith("karta: ").contains("invalid API key");
        assertThat(karta.configFile()).doesNotExist();
        assertThat(cli.home().resolve(".config")).doesNotExist();
    }

    @Test
    void login_with_something_that_is_not_a_key_exits_3_without_asking_the_server() {
        Run karta = new Run(cli.home()).stdin("hunter2\n");

        Run.Result login = karta.run("login", "--server", "http://127.0.0.1:1");

        assertThat(login.exitCode()).isEqualTo(3);
        assertThat(login.stderr()).contains("not a Karta API key");
        assertThat(karta.configFile()).doesNotExist();
    }

    @Test
    void login_with_empty_stdin_is_a_usage_error() {
        Run.Result login = new Run(cli.home()).stdin("").run("login", "--server", cli.server().url());

        assertThat(login.exitCode()).isEqualTo(2);
        assertThat(login.stderr()).contains("no API key given");
    }

    @Test
    void env_api_key_overrides_the_saved_key() {
        Run karta = new Run(cli.home()).stdin(TestServer.ADMIN_KEY);
        assertThat(karta.run("login", "--server", cli.server().url()).exitCode()).isZero();

        Run.Result withBadEnvKey = karta.env("KARTA_API_KEY", "kt_live_WrongKey0123456789abcdefABCDEFGH").run("whoami");

        assertThat(withBadEnvKey.exitCode()).as(withBadEnvKey.toString()).isEqualTo(3);
        assertThat(withBadEnvKey.stderr()).contains("invalid API key");
    }

    @Test
    void env_server_and_key_work_without_any_config_file() {
        Run.Result whoami = cli.as(TestServer.ADMIN_KEY).run("whoami", "--json");

        assertThat(whoami.exitCode()).as(whoami.toString()).isZero();
        assertThat(whoami.stdout()).contains("\"org\": \"default\"");
    }

    @Test
    void saved_key_is_not_sent_to_another_server() {
        Run karta = new Run(cli.home()).stdin(TestServer.ADMIN_KEY);
        karta.run("login", "--server", cli.server().url());

        Run.Result elsewhere = karta.run("whoami", "--server", "http://127.0.0.1:1");

        assertThat(elsewhere.exitCode()).isEqualTo(3);
        assertThat(elsewhere.stderr())
                .isEqualTo("karta: not logged in to http://127.0.0.1:1: run `karta login --server http://127.0.0.1:1`"
                        + " or set KARTA_API_KEY\n");
    }

    @Test
    void xdg_config_home_is_where_the_config_goes() {
        Path xdg = cli.home().resolve("xdg");
        Run karta = new Run(cli.home()).env("XDG_CONFIG_HOME", xdg.toString()).stdin(TestServer.ADMIN_KEY);

        assertThat(karta.run("login", "--server", cli.server().url()).exitCode()).isZero();

        assertThat(xdg.resolve("karta/config.toml")).exists();
        assertThat(cli.home().resolve(".config")).doesNotExist();
    }

    @Test
    void logout_forgets_the_key_but_keeps_the_server() throws Exception {
        Run karta = new Run(cli.home()).stdin(TestServer.ADMIN_KEY);
        karta.run("login", "--server", cli.server().url());

        Run.Result logout = karta.run("logout");
        Run.Result whoami = karta.run("whoami");

        assertThat(logout.exitCode()).isZero();
        assertThat(Files.readString(karta.configFile())).contains(cli.server().url()).doesNotContain("api_key");
        assertThat(whoami.exitCode()).isEqualTo(3);
        assertThat(whoami.stderr()).contains("not logged in to " + cli.server().url() + ": run `karta login`");
    }
}
