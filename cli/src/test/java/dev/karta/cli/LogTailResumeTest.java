package dev.karta.cli;

import static dev.karta.cli.LogsCommandTest.ids;
import static dev.karta.cli.LogsCommandTest.jsonLines;
import static dev.karta.cli.LogsCommandTest.publish;
import static dev.karta.cli.LogsCommandTest.serverLog;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * {@code karta logs --tail} across a lost connection, against real servers: a server restarted
 * on the same data directory and port, and a network cut (a proxy) while entries are written.
 * The printed entries are compared with the server's own log: no gap, no repeat. The tails start
 * with the last two entries only, so a reconnect that did not resume would leave a gap.
 */
class LogTailResumeTest {
    private static final Duration PATIENCE = Duration.ofSeconds(30);

    @RegisterExtension
    static final CliServer cli = new CliServer();

    @Test
    void tail_resumes_after_a_server_restart_on_the_same_port_without_gaps_or_repeats() {
        publish(cli.karta(), cli.home(), "restart-shop", "v1");
        // Only the last two entries first: a reconnect that started over would skip the new build.
        Run.Running tail = cli.karta().start("logs", "restart-shop", "--tail", "--json", "-n", "2");
        int skipped = serverLog(cli.karta(), "restart-shop").size() - 2;
        await().atMost(PATIENCE).until(() -> tail.stdout().lines().count() == 2);
        long lastBefore = ids(jsonLines(tail.stdout())).get(1);

        cli.stop();
        await().atMost(PATIENCE).until(() -> tail.stderr().contains("log stream lost"));
        cli.startAgain();
        publish(cli.karta(), cli.home(), "restart-shop", "v2");
        List<JsonNode> all = serverLog(cli.karta(), "restart-shop");
        List<JsonNode> expected = all.subList(skipped, all.size());
        assertThat(expected.size()).as("more new entries than a fresh tail would replay").isGreaterThan(4);
        await().atMost(PATIENCE).until(() -> tail.stdout().lines().count() >= expected.size());
        tail.pressCtrlC();
        Run.Result result = tail.await(PATIENCE);

        assertThat(result.exitCode()).as(result.toString()).isZero();
        assertThat(jsonLines(result.stdout())).isEqualTo(expected);
        assertThat(expected).anyMatch(entry -> entry.path("release").asText().equals("v2"));
        assertThat(result.stderr()).contains("karta: log stream lost (")
                .contains("karta: reconnected, resuming after entry " + lastBefore + "\n");
    }

    @Test
    void tail_prints_entries_written_while_the_connection_was_cut_once_it_is_back() throws IOException {
        publish(cli.karta(), cli.home(), "cut-shop", "v1");
        try (CuttableProxy proxy = new CuttableProxy(cli.server().port())) {
            Run.Running tail = new Run(cli.home()).env("KARTA_SERVER", proxy.url()).env("KARTA_API_KEY", TestServer.ADMIN_KEY)
                    .start("logs", "cut-shop", "--tail", "--json", "-n", "2");
            int skipped = serverLog(cli.karta(), "cut-shop").size() - 2;
            await().atMost(PATIENCE).until(() -> tail.stdout().lines().count() == 2);
            long lastBefore = ids(jsonLines(tail.stdout())).get(1);

            proxy.cut();
            await().atMost(PATIENCE).until(() -> tail.stderr().contains("log stream lost"));
            publish(cli.karta(), cli.home(), "cut-shop", "v2");
            publish(cli.karta(), cli.home(), "cut-shop", "v3");
            List<JsonNode> all = serverLog(cli.karta(), "cut-shop");
            List<JsonNode> expected = all.subList(skipped, all.size());
            assertThat(tail.stdout().lines().count()).as("nothing arrives while cut").isEqualTo(2);
            proxy.restore();
            await().atMost(PATIENCE).until(() -> tail.stdout().lines().count() >= expected.size());
            tail.pressCtrlC();
            Run.Result result = tail.await(PATIENCE);

            assertThat(result.exitCode()).as(result.toString()).isZero();
            assertThat(jsonLines(result.stdout())).isEqualTo(expected);
            assertThat(result.stderr()).contains("karta: reconnected, resuming after entry " + lastBefore + "\n");
        }
    }
}
