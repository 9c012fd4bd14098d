package dev.karta.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.time.Duration;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

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
    void create_with_an_expiry_and_a_project_and_list_shows_both_and_last_use() {
        assertThat(cli.karta().run("projects", "create", "keyed").exitCode()).isZero();

        Run.Result create = cli.karta().run("keys", "create", "ci", "--scope", "write", "--expires", "90d",
                "--project", "keyed");

        assertThat(create.exitCode()).as(create.toString()).isZero();
        assertThat(create.stdout()).contains("with scope write, restricted to project keyed, expiring 20");
        Matcher secret = SECRET.matcher(create.stdout());
        assertThat(secret.find()).isTrue();
        assertThat(cli.karta().run("keys", "list").stdout())
                .containsPattern("ID +NAME +SCOPE +PREFIX +STATUS +PROJECT +CREATED +EXPIRES +LAST USED")
                .containsPattern("ci +write +kt_live_\\w{6} +active +keyed +(just now|\\d+s ago) +in 89 days +never");

        Run asKey = new Run(cli.home()).env("KARTA_SERVER", cli.server().url()).env("KARTA_API_KEY", secret.group());
        Run.Result whoami = asKey.run("whoami");
        assertThat(whoami.stdout()).contains("Project:").contains("keyed (this key sees no other project)")
                .contains("Expires:").contains("(in 89 days)");
        assertThat(asKey.run("keys", "list").exitCode()).as("org-wide: refused to a restricted key").isEqualTo(3);
        await().atMost(Duration.ofSeconds(10)).until(() -> cli.karta().run("keys", "list").stdout()
                .matches("(?s).*ci +write +kt_live_\\w{6} +active +keyed +(just now|\\d+s ago) +in 89 days +(just now|\\d+ seconds? ago).*"));
    }

    @Test
    void an_org_wide_key_lists_as_all_projects_and_never_expiring() {
        cli.karta().run("keys", "create", "forever", "--scope", "read");

        assertThat(cli.karta().run("keys", "list").stdout())
                .containsPattern("forever +read +kt_live_\\w{6} +active +\\(all\\) +(just now|\\d+s ago) +never +never");
    }

    @ParameterizedTest
    @ValueSource(strings = {"soon", "90", "0d", "-1d", "2020-01-01T00:00:00Z", "2030-01-01"})
    void a_bad_expiry_is_a_usage_error(String expires) {
        Run.Result create = cli.karta().run("keys", "create", "x", "--scope", "read", "--expires", expires);

        assertThat(create.exitCode()).as(create.toString()).isEqualTo(2);
        assertThat(create.stderr()).startsWith("karta: invalid --expires '" + expires + "'");
    }

    @Test
    void an_expiry_past_the_servers_limit_is_a_usage_error() {
        Run.Result create = cli.karta().run("keys", "create", "x", "--scope", "read", "--expires", "300w");

        assertThat(create.exitCode()).as(create.toString()).isEqualTo(2);
        assertThat(create.stderr()).contains("too far ahead");
    }

    @Test
    void an_expiry_can_be_an_rfc_3339_time() {
        Run.Result create = cli.karta().run("keys", "create", "dated", "--scope", "read", "--expires",
                "2030-01-01T00:00:00Z", "--json");

        assertThat(create.exitCode()).as(create.toString()).isZero();
        assertThat(create.stdout()).contains("\"expires_at\": \"2030-01-01T00:00:00Z\"");
    }

    @Test
    void a_key_for_an_unknown_project_exits_4() {
        Run.Result create = cli.karta().run("keys", "create", "x", "--scope", "read", "--project", "nowhere");

        assertThat(create.exitCode()).isEqualTo(4);
        assertThat(create.stderr()).contains("project 'nowhere' not found");
    }

    @Test
    void revoking_an_unknown_key_exits_4() {
        Run.Result revoke = cli.karta().run("keys", "revoke", "key_doesnotexist");

        assertThat(revoke.exitCode()).isEqualTo(4);
        assertThat(revoke.stderr()).startsWith("karta: ");
    }
}
