package dev.karta.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.net.ServerSocket;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Exit codes and one-line errors that need no running server. */
class ExitCodesTest {
    @TempDir
    Path home;

    @Test
    void an_unknown_command_exits_2() {
        Run.Result result = new Run(home).run("frobnicate");

        assertThat(result.exitCode()).isEqualTo(2);
        assertThat(result.stderr()).startsWith("karta: Unmatched argument");
    }

    @Test
    void a_missing_parameter_exits_2_and_points_at_help() {
        Run.Result result = new Run(home).run("projects", "info");

        assertThat(result.exitCode()).isEqualTo(2);
        assertThat(result.stderr()).startsWith("karta: Missing required parameter: 'NAME'")
                .contains("karta projects info --help");
    }

    @Test
    void a_server_url_without_scheme_exits_2() {
        Run.Result result = new Run(home).env("KARTA_API_KEY", TestServer.ADMIN_KEY)
                .run("projects", "list", "--server", "localhost:7070");

        assertThat(result.exitCode()).isEqualTo(2);
        assertThat(result.stderr()).contains("--server must be a URL");
    }

    @Test
    void not_being_logged_in_exits_3_with_what_to_do() {
        Run.Result result = new Run(home).run("projects", "list");

        assertThat(result.exitCode()).isEqualTo(3);
        assertThat(result.stderr()).isEqualTo(
                "karta: not logged in to http://127.0.0.1:7070: run `karta login` or set KARTA_API_KEY\n");
    }

    @Test
    void an_unreachable_server_exits_1_with_a_hint() throws IOException {
        int closedPort;
        try (ServerSocket socket = new ServerSocket(0)) {
            closedPort = socket.getLocalPort();
        }
        String url = "http://127.0.0.1:" + closedPort;

        Run.Result result = new Run(home).env("KARTA_API_KEY", TestServer.ADMIN_KEY)
                .run("--server", url, "projects", "list");

        assertThat(result.exitCode()).isEqualTo(1);
        assertThat(result.stderr()).isEqualTo("karta: cannot reach Karta at " + url
                + ": connection refused — is `karta server` running?\n");
    }

    @Test
    void an_https_server_gets_real_tls_not_the_plain_http_shortcut() throws IOException {
        try (ServerSocket socket = new ServerSocket(0)) {
            Thread hangUp = new Thread(() -> {
                try {
                    while (true) {
                        socket.accept().close(); // not TLS: every handshake fails at once
                    }
                } catch (IOException closed) {
                    // the test is over
                }
            });
            hangUp.start();
            String url = "https://127.0.0.1:" + socket.getLocalPort();

            Run.Result result = new Run(home).env("KARTA_API_KEY", TestServer.ADMIN_KEY)
                    .run("--server", url, "projects", "list");

            assertThat(result.exitCode()).isEqualTo(1);
            assertThat(result.stderr()).startsWith("karta: lost the connection to Karta at " + url)
                    .doesNotContain("TLS is not set up");
        }
    }

    @Test
    void version_prints_the_version() {
        Run.Result result = new Run(home).run("--version");

        assertThat(result.exitCode()).isZero();
        assertThat(result.stdout()).startsWith("karta ");
    }

    @Test
    void no_arguments_prints_help_listing_every_command() {
        Run.Result result = new Run(home).run();

        assertThat(result.exitCode()).isZero();
        assertThat(result.stdout()).contains("Usage: karta").contains("login").contains("projects").contains("keys")
                .contains("publish").contains("deploy").contains("rollback").contains("logs").contains("repo");
    }
}
