package dev.karta.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code karta git-credential} speaks git's credential-helper protocol (git-credential(1)): for
 * {@code get} it answers the logged-in key for the logged-in server only, and it never stores
 * or erases anything.
 */
class GitCredentialCommandTest {
    private static final String KEY = "kt_live_CredentialHelperKey0123456789abc";

    @TempDir
    Path home;

    private Run loggedInTo(String server) {
        Run karta = new Run(home);
        new ConfigFile(karta.configFile()).write(Map.of(ConfigFile.SERVER, server, ConfigFile.API_KEY, KEY));
        return karta;
    }

    @Test
    void get_for_the_logged_in_server_answers_the_saved_key() {
        Run karta = loggedInTo("http://127.0.0.1:7070");

        Run.Result get = karta.stdin("protocol=http\nhost=127.0.0.1:7070\npath=git/shop.git\n\n")
                .run("git-credential", "get");

        assertThat(get.exitCode()).as(get.toString()).isZero();
        assertThat(get.stdout()).isEqualTo("username=karta\npassword=" + KEY + "\n");
        assertThat(get.stderr()).isEmpty();
    }

    @Test
    void get_answers_the_key_from_the_environment_for_the_server_from_the_environment() {
        Run karta = new Run(home).env("KARTA_SERVER", "https://karta.example.com").env("KARTA_API_KEY", KEY);

        Run.Result get = karta.stdin("protocol=https\nhost=karta.example.com\n").run("git-credential", "get");

        assertThat(get.stdout()).isEqualTo("username=karta\npassword=" + KEY + "\n");
    }

    @Test
    void get_treats_a_default_port_as_no_port() {
        Run karta = loggedInTo("https://karta.example.com:443");

        Run.Result get = karta.stdin("protocol=https\nhost=KARTA.example.com\n\n").run("git-credential", "get");

        assertThat(get.stdout()).isEqualTo("username=karta\npassword=" + KEY + "\n");
    }

    @Test
    void a_later_host_line_overrides_an_earlier_one_as_in_git() {
        Run karta = loggedInTo("http://127.0.0.1:7070");

        // git-credential(1): when a key is repeated, the last value wins.
        Run.Result toOther = karta.stdin("protocol=http\nhost=127.0.0.1:7070\nhost=evil.example.com\n\n")
                .run("git-credential", "get");
        Run.Result toServer = karta.stdin("protocol=http\nhost=evil.example.com\nhost=127.0.0.1:7070\n\n")
                .run("git-credential", "get");

        assertThat(toOther.stdout()).isEmpty();
        assertThat(toServer.stdout()).isEqualTo("username=karta\npassword=" + KEY + "\n");
    }

    @Test
    void get_for_another_host_port_or_protocol_prints_nothing() {
        Run karta = loggedInTo("http://127.0.0.1:7070");

        for (String request : new String[] {"protocol=http\nhost=127.0.0.1:7071\n\n",
                "protocol=http\nhost=github.com\n\n", "protocol=https\nhost=127.0.0.1:7070\n\n",
                "host=127.0.0.1:7070\n\n", "protocol=http\n\n"}) {
            Run.Result get = karta.stdin(request).run("git-credential", "get");

            assertThat(get.exitCode()).isZero();
            assertThat(get.stdout()).as(request).isEmpty();
            assertThat(get.stderr()).as(request).isEmpty();
        }
    }

    @Test
    void get_when_not_logged_in_prints_nothing_and_says_why_on_stderr() {
        Run karta = new Run(home).env("KARTA_SERVER", "http://127.0.0.1:7070");

        Run.Result get = karta.stdin("protocol=http\nhost=127.0.0.1:7070\n\n").run("git-credential", "get");

        assertThat(get.exitCode()).isZero();
        assertThat(get.stdout()).isEmpty();
        assertThat(get.stderr()).startsWith("karta: not logged in to http://127.0.0.1:7070: run `karta login`");
    }

    @Test
    void a_saved_key_is_not_given_for_another_server_named_by_the_environment() {
        Run karta = loggedInTo("http://127.0.0.1:7070").env("KARTA_SERVER", "http://127.0.0.1:7071");

        Run.Result get = karta.stdin("protocol=http\nhost=127.0.0.1:7071\n\n").run("git-credential", "get");

        assertThat(get.stdout()).isEmpty();
    }

    @Test
    void store_and_erase_read_their_input_and_change_nothing() throws IOException {
        Run karta = loggedInTo("http://127.0.0.1:7070");
        String config = Files.readString(karta.configFile());

        for (String action : new String[] {"store", "erase", "something-new"}) {
            Run.Result result = karta.stdin("protocol=http\nhost=127.0.0.1:7070\nusername=karta\npassword=x\n\n")
                    .run("git-credential", action);

            assertThat(result.exitCode()).as(action).isZero();
            assertThat(result.stdout()).as(action).isEmpty();
            assertThat(result.stderr()).as(action).isEmpty();
        }
        assertThat(Files.readString(karta.configFile())).isEqualTo(config);
    }

    @Test
    void the_helper_is_not_listed_in_the_help() {
        Run.Result help = new Run(home).run("--help");

        assertThat(help.stdout()).contains("publish").doesNotContain("git-credential");
    }
}
