package dev.karta.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

class WebhooksCommandTest {
    private static final Pattern SECRET = Pattern.compile("whsec_[A-Za-z0-9+/]{43}=");
    private static final Pattern ID = Pattern.compile("(whe_[a-z0-9]+)");
    /** A documentation address (TEST-NET-3): public to the server's checks, routed nowhere. */
    private static final String URL = "https://203.0.113.10/hooks";

    @RegisterExtension
    static final CliServer cli = new CliServer();

    @Test
    void create_prints_the_secret_once_and_list_test_deliveries_and_delete_follow() {
        Run.Result create = cli.karta().run("webhooks", "create", URL, "--events", "deploy.succeeded,key.created",
                "--description", "ops");

        assertThat(create.exitCode()).as(create.toString()).isZero();
        Matcher secret = SECRET.matcher(create.stdout());
        Matcher id = ID.matcher(create.stdout());
        assertThat(secret.find() && id.find()).isTrue();
        assertThat(create.stderr()).contains("only time the secret is shown");

        Run.Result list = cli.karta().run("webhooks", "list");
        assertThat(list.stdout()).startsWith("ID").contains(id.group(1))
                .containsPattern("203\\.0\\.113\\.10/hooks +deploy\\.succeeded,key\\.created +enabled +ops")
                .doesNotContain(secret.group());
        Run.Result json = cli.karta().run("webhooks", "list", "--json");
        assertThat(json.stdout()).contains("\"webhook_endpoints\"").doesNotContain("whsec_");

        Run.Result test = cli.karta().run("webhooks", "test", id.group(1));
        assertThat(test.exitCode()).as(test.toString()).isZero();
        assertThat(test.stdout()).startsWith("Queued ping event evt_");
        Run.Result deliveries = cli.karta().run("webhooks", "deliveries", id.group(1));
        assertThat(deliveries.stdout()).startsWith("ID").contains("ping");

        Run.Result disable = cli.karta().run("webhooks", "disable", id.group(1));
        assertThat(disable.stdout()).isEqualTo("Disabled webhook endpoint " + id.group(1) + "\n");
        assertThat(cli.karta().run("webhooks", "list").stdout()).contains("disabled");
        assertThat(cli.karta().run("webhooks", "enable", id.group(1)).stdout()).startsWith("Enabled");
        Matcher delivery = Pattern.compile("(?m)^(\\d+) +evt_").matcher(deliveries.stdout());
        assertThat(delivery.find()).as(deliveries.stdout()).isTrue();
        Run.Result retry = cli.karta().run("webhooks", "retry", id.group(1), delivery.group(1));
        assertThat(retry.exitCode()).as(retry.toString()).isZero();
        assertThat(retry.stdout()).startsWith("Queued delivery " + delivery.group(1) + " of event evt_");
        Run.Result rotated = cli.karta().run("webhooks", "rotate-secret", id.group(1));
        Matcher newSecret = SECRET.matcher(rotated.stdout());
        assertThat(newSecret.find()).as(rotated.toString()).isTrue();
        assertThat(newSecret.group()).isNotEqualTo(secret.group());

        Run.Result delete = cli.karta().run("webhooks", "delete", id.group(1));
        assertThat(delete.exitCode()).isZero();
        assertThat(delete.stdout()).isEqualTo("Deleted webhook endpoint " + id.group(1) + "\n");
        assertThat(cli.karta().run("webhooks", "list").stdout()).doesNotContain(id.group(1));
        assertThat(cli.karta().run("webhooks", "delete", id.group(1)).exitCode()).isNotZero();
    }

    @Test
    void a_refused_url_is_an_error_that_says_why() {
        Run.Result create = cli.karta().run("webhooks", "create", "http://127.0.0.1:9/hooks");

        assertThat(create.exitCode()).isNotZero();
        assertThat(create.stderr()).contains("https://");
    }
}
