package dev.karta.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

class KeysCommandTest {
    private static final Pattern SECRET = Pattern.compile("kt_live_[A-Za-z0-9]{32}");
    private static final Pattern KEY_ID = Pattern.compile("\\((key_[a-z0-9]+)\\)");

    @RegisterExtension
    static final CliServer cli = new CliServer();

    @Test
    void create_prints_the_secret_once_with_a_warning() {
        Run.Result create = cli.karta().run("keys", "create", "deployer", "--scope", "write");

        assertThat(create.exitCode()).as(create.toString()).isZero();
        assertThat(create.stdout()).startsWith("Created key deployer (key_").contains("with scope write:");
        assertThat(SECRET.matcher(create.stdout()).find()).isTrue();
        assertThat(create.stderr()).contains("only time the secret is shown");
    }

    @Test
    void list_shows_keys_without_secrets() {
        Run.Result create = cli.karta().run("keys", "create", "lister", "--scope", "read");
        Matcher secret = SECRET.matcher(create.stdout());
        assertThat(secret.find()).isTrue();

        Run.Result list = cli.karta().run("keys", "list");

        assertThat(list.exitCode()).isZero();
        assertThat(list.stdout()).startsWith("ID").containsPattern("lister +read +kt_live_\\w{6} +active")
                .doesNotContain(secret.group());
    }

    @Test
    void a_revoked_key_then_gets_exit_3() {
        Run.Result create = cli.karta().run("keys", "create", "short-lived", "--scope", "read");
        Matcher secret = SECRET.matcher(create.stdout());
        Matcher id = KEY_ID.matcher(create.stdout());
        assertThat(secret.find() && id.find()).isTrue();
        Run asNewKey = new Run(cli.home()).env("KARTA_SERVER", cli.server().url()).env("KARTA_API_KEY", secret.group());
        assertThat(asNewKey.run("projects", "list").exitCode()).isZero();

        Run.Result revoke = cli.karta().run("keys", "revoke", id.group(1));
        Run.Result afterwards = asNewKey.run("projects", "list");

        assertThat(revoke.exitCode()).as(revoke.toString()).isZero();
        assertThat(revoke.stdout()).isEqualTo("Revoked key " + id.group(1) + "\n");
        assertThat(afterwards.exitCode()).isEqualTo(3);
        assertThat(cli.karta().run("keys", "list").stdout())
                .containsPattern("short-lived +read +kt_live_\\w{6} +revoked");
    }

    @Test
    void an_unknown_scope_is_a_usage_error() {
        Run.Result create = cli.karta().run("keys", "create", "x", "--scope", "root");

        assertThat(create.exitCode()).isEqualTo(2);
        assertThat(create.stderr()).contains("read, write, admin");
    }

    @Test
    void revoking_an_unknown_key_exits_4() {
        Run.Result revoke = cli.karta().run("keys", "revoke", "key_doesnotexist");

        assertThat(revoke.exitCode()).isEqualTo(4);
        assertThat(revoke.stderr()).startsWith("karta: ");
    }
}
