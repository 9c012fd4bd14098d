package dev.karta.server;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/** {@code --github-oidc-issuer}: GitHub's issuer by default, another one (without its trailing slash) when given. */
class OidcIssuerFlagTest {
    @TempDir
    Path dir;

    private Config parse(String... args) {
        Main main = new Main();
        new CommandLine(main).parseArgs(args);
        return main.config();
    }

    @Test
    void the_default_issuer_is_github_actions() {
        assertThat(Config.defaults(dir).oidc().githubIssuer()).isEqualTo("https://token.actions.githubusercontent.com");
        assertThat(new CommandLine(new Main()).getUsageMessage()).contains("--github-oidc-issuer")
                .contains("KARTA_GITHUB_OIDC_ISSUER");
    }

    @Test
    void the_flag_sets_the_issuer_and_refuses_what_is_not_http() {
        Config config = parse("--data-dir", dir.toString(), "--github-oidc-issuer", "https://ghe.example/_services/token/");
        assertThat(config.oidc().githubIssuer()).isEqualTo("https://ghe.example/_services/token");
        assertThatThrownBy(() -> parse("--data-dir", dir.toString(), "--github-oidc-issuer", "ftp://x"))
                .hasMessageContaining("--github-oidc-issuer");
    }
}
