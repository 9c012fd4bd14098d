package dev.karta.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.karta.api.Json;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * {@code karta logs} end to end against a real server (SQLite in a temporary folder): history
 * with its filters, {@code --json}, a live tail, and the exit codes. Each test has its own project.
 */
class LogsCommandTest {
    static final ObjectMapper JSON = Json.newMapper();

    @RegisterExtension
    static final CliServer cli = new CliServer();

    /** Publishes a Claude Code app as {@code project} (created on first use) and waits for its release. */
    static void publish(Run karta, Path home, String project, String text) {
        Path dir = home.resolve("apps").resolve(project);
        try {
            Files.createDirectories(dir.resolve(".claude"));
            Files.writeString(dir.resolve("CLAUDE.md"), "# " + project + "\n" + text + "\n");
            Files.writeString(dir.resolve(".claude/settings.json"), "{}\n");
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        Run.Result publish = karta.workingDir(dir).run("publish", project);
        karta.workingDir(home);
        assertThat(publish.exitCode()).as(publish.toString()).isZero();
    }

    /** The project's whole log as the server has it, oldest first. */
    static List<JsonNode> serverLog(Run karta, String project) {
        Run.Result all = karta.run("logs", project, "-n", "10000", "--json");
        assertThat(all.exitCode()).as(all.toString()).isZero();
        return jsonLines(all.stdout());
    }

    static List<JsonNode> jsonLines(String text) {
        List<JsonNode> entries = new ArrayList<>();
        for (String line : text.lines().toList()) {
            try {
                entries.add(JSON.readTree(line));
            } catch (IOException e) {
                throw new AssertionError("not one JSON object per line: " + line, e);
            }
        }
        return entries;
    }

    static List<Long> ids(List<JsonNode> entries) {
        return entries.stream().map(entry -> entry.get("id").asLong()).toList();
    }

    @Test
    void history_lists_build_and_release_lines_aligned_oldest_first() {
        publish(cli.karta(), cli.home(), "listed-shop", "v1");

        Run.Result logs = cli.karta().run("logs", "listed-shop");

        assertThat(logs.exitCode()).as(logs.toString()).isZero();
        List<String> lines = logs.stdout().lines().toList();
        assertThat(lines).anyMatch(line -> line.matches(
                "\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d\\.\\d{3}Z  build +dep_\\w+  .*"));
        assertThat(lines).anyMatch(line -> line.matches(".*Z  release +v1 +.*"));
        Pattern columns = Pattern.compile("(\\S+  )(\\S+ +)(\\S+ +)\\S.*");
        Matcher first = columns.matcher(lines.get(0));
        assertThat(first.matches()).as(lines.get(0)).isTrue();
        for (String line : lines) {
            Matcher cells = columns.matcher(line);
            assertThat(cells.matches()).as(line).isTrue();
            for (int column = 1; column <= 3; column++) {
                assertThat(cells.end(column)).as("column %d aligned in: %s", column, line).isEqualTo(first.end(column));
            }
        }
        assertThat(logs.stdout()).doesNotContain("\u001b[");
        List<String> times = lines.stream().map(line -> line.substring(0, 24)).toList();
        assertThat(times).isSorted();
    }

    @Test
    void json_prints_each_entry_as_the_server_sent_it_one_per_line() {
        publish(cli.karta(), cli.home(), "json-shop", "v1");

        Run.Result logs = cli.karta().run("logs", "json-shop", "--json");

        assertThat(logs.exitCode()).as(logs.toString()).isZero();
        List<JsonNode> entries = jsonLines(logs.stdout());
        assertThat(entries).isNotEmpty();
        assertThat(ids(entries)).isSorted().doesNotHaveDuplicates();
        JsonNode first = entries.get(0);
        assertThat(first.has("time")).isTrue();
        assertThat(first.has("source")).isTrue();
        assertThat(first.has("message")).isTrue();
        assertThat(entries).anyMatch(e -> e.path("source").asText().equals("release")
                && e.path("release").asText().equals("v1"));
    }

    @Test
    void source_limit_since_and_until_filter_the_history() {
        publish(cli.karta(), cli.home(), "filtered-shop", "v1");
        publish(cli.karta(), cli.home(), "filtered-shop", "v2");
        List<JsonNode> all = serverLog(cli.karta(), "filtered-shop");

        List<JsonNode> builds = jsonLines(cli.karta().run("logs", "filtered-shop", "--source", "build", "--json").stdout());
        List<JsonNode> lastTwo = jsonLines(cli.karta().run("logs", "filtered-shop", "-n", "2", "--json").stdout());
        Run.Result recent = cli.karta().run("logs", "filtered-shop", "--since", "1h", "--json");
        Run.Result old = cli.karta().run("logs", "filtered-shop", "--until", "1h");
        String secondTime = all.get(1).get("time").asText();
        List<JsonNode> fromSecond = jsonLines(cli.karta().run("logs", "filtered-shop", "--since", secondTime, "--json").stdout());

        assertThat(builds).isNotEmpty().allMatch(e -> e.get("source").asText().equals("build"));
        assertThat(builds.size()).isLessThan(all.size());
        assertThat(ids(lastTwo)).isEqualTo(ids(all.subList(all.size() - 2, all.size())));
        assertThat(ids(jsonLines(recent.stdout()))).isEqualTo(ids(all));
        assertThat(old.exitCode()).as(old.toString()).isZero();
        assertThat(old.stdout()).isEmpty();
        assertThat(old.stderr()).isEqualTo("No log entries of filtered-shop match.\n");
        assertThat(fromSecond).allMatch(e -> !Instant.parse(e.get("time").asText()).isBefore(Instant.parse(secondTime)));
        assertThat(ids(fromSecond)).contains(all.get(1).get("id").asLong());
    }

    @Test
    void bad_options_are_usage_errors_before_any_request() {
        Run offline = new Run(cli.home()).env("KARTA_SERVER", "http://127.0.0.1:1").env("KARTA_API_KEY", TestServer.ADMIN_KEY);

        Run.Result since = offline.run("logs", "shop", "--since", "yesterday");
        Run.Result until = offline.run("logs", "shop", "--until", "2026-13-01T00:00:00Z");
        Run.Result order = offline.run("logs", "shop", "--since", "1h", "--until", "2h");
        Run.Result tailUntil = offline.run("logs", "shop", "--tail", "--until", "1h");
        Run.Result limit = offline.run("logs", "shop", "-n", "0");
        Run.Result source = offline.run("logs", "shop", "--source", "stdout");

        for (Run.Result result : List.of(since, until, order, tailUntil, limit, source)) {
            assertThat(result.exitCode()).as(result.toString()).isEqualTo(2);
            assertThat(result.stderr()).doesNotContain("cannot reach");
        }
        assertThat(since.stderr()).isEqualTo("karta: invalid --since 'yesterday': use an RFC 3339 time "
                + "(2026-06-01T00:00:00Z) or an age such as 30s, 10m, 2h or 1d\n");
        assertThat(until.stderr()).startsWith("karta: invalid --until '2026-13-01T00:00:00Z'");
        assertThat(order.stderr()).contains("must be before --until");
        assertThat(tailUntil.stderr()).isEqualTo("karta: --until cannot be used with --tail: a tail follows new entries\n");
        assertThat(limit.stderr()).isEqualTo("karta: -n must be at least 1, got 0\n");
        assertThat(source.stderr()).isEqualTo("karta: invalid --source 'stdout': use build, release, session or system\n");
    }

    @Test
    void the_servers_refusal_of_an_option_is_a_usage_error_with_its_message() {
        publish(cli.karta(), cli.home(), "limited-shop", "v1");

        Run.Result logs = cli.karta().run("logs", "limited-shop", "-n", "20000");

        assertThat(logs.exitCode()).as(logs.toString()).isEqualTo(2);
        assertThat(logs.stderr()).isEqualTo("karta: limit must be between 1 and 10000, got 20000\n");
    }

    @Test
    void an_unknown_project_exits_4_and_a_bad_key_exits_3() {
        Run.Result unknown = cli.karta().run("logs", "no-such-shop");
        Run.Result unknownTail = cli.karta().run("logs", "no-such-shop", "--tail");
        Run.Result badKey = cli.as("kt_live_NotAKey0000000000000000000000000").run("logs", "no-such-shop", "-f");

        assertThat(unknown.exitCode()).as(unknown.toString()).isEqualTo(4);
        assertThat(unknown.stderr()).startsWith("karta: ").contains("no-such-shop");
        assertThat(unknownTail.exitCode()).as(unknownTail.toString()).isEqualTo(4);
        assertThat(unknownTail.stderr()).isEqualTo(unknown.stderr());
        assertThat(badKey.exitCode()).as(badKey.toString()).isEqualTo(3);
    }

    @Test
    void a_read_key_may_read_logs() {
        publish(cli.karta(), cli.home(), "read-shop", "v1");
        Run.Result created = cli.karta().run("keys", "create", "reader", "--scope", "read", "--json");
        String readKey = jsonLines(created.stdout().replace("\n", "")).get(0).get("secret").asText();

        Run.Result logs = cli.as(readKey).run("logs", "read-shop");

        assertThat(logs.exitCode()).as(logs.toString()).isZero();
        assertThat(logs.stdout()).contains("release");
    }

    @Test
    void tail_prints_the_last_entries_then_a_new_build_once_and_exits_0_on_ctrl_c() {
        publish(cli.karta(), cli.home(), "tailed-shop", "v1");
        int before = serverLog(cli.karta(), "tailed-shop").size();

        Run.Running tail = cli.karta().start("logs", "tailed-shop", "--tail");
        await().atMost(Duration.ofSeconds(20)).until(() -> tail.stdout().lines().count() == before);
        publish(cli.karta(), cli.home(), "tailed-shop", "v2");
        List<JsonNode> all = serverLog(cli.karta(), "tailed-shop");
        await().atMost(Duration.ofSeconds(20)).until(() -> tail.stdout().lines().count() >= all.size());
        tail.pressCtrlC();
        Run.Result result = tail.await(Duration.ofSeconds(10));

        assertThat(result.exitCode()).as(result.toString()).isZero();
        List<String> lines = result.stdout().lines().toList();
        assertThat(lines).hasSize(all.size());
        for (int i = 0; i < all.size(); i++) {
            assertThat(lines.get(i)).as("line %d", i).endsWith(all.get(i).get("message").asText().lines().findFirst().orElse(""));
        }
        assertThat(lines.subList(before, lines.size())).anyMatch(line -> line.matches(".*Z  release +v2 +.*"));
        assertThat(result.stderr()).isEmpty();
    }

    @Test
    void tail_with_json_and_a_source_prints_only_those_entries_as_sent() {
        publish(cli.karta(), cli.home(), "json-tail", "v1");

        Run.Running tail = cli.karta().start("logs", "json-tail", "-f", "--source", "release", "--json");
        await().atMost(Duration.ofSeconds(20)).until(() -> tail.stdout().lines().count() == 1);
        publish(cli.karta(), cli.home(), "json-tail", "v2");
        await().atMost(Duration.ofSeconds(20)).until(() -> tail.stdout().lines().count() == 2);
        tail.pressCtrlC();
        Run.Result result = tail.await(Duration.ofSeconds(10));

        assertThat(result.exitCode()).as(result.toString()).isZero();
        List<JsonNode> entries = jsonLines(result.stdout());
        assertThat(entries).extracting(e -> e.get("release").asText()).containsExactly("v1", "v2");
        List<JsonNode> releases = jsonLines(cli.karta().run("logs", "json-tail", "--source", "release", "--json").stdout());
        assertThat(entries).isEqualTo(releases);
    }

    @Test
    void tail_ends_with_exit_4_when_the_project_is_deleted() {
        publish(cli.karta(), cli.home(), "doomed-shop", "v1");
        Run.Running tail = cli.karta().start("logs", "doomed-shop", "--tail");
        await().atMost(Duration.ofSeconds(20)).until(() -> !tail.stdout().isEmpty());

        assertThat(cli.karta().run("projects", "delete", "doomed-shop", "--yes").exitCode()).isZero();
        Run.Result result = tail.await(Duration.ofSeconds(20));

        assertThat(result.exitCode()).as(result.toString()).isEqualTo(4);
        assertThat(result.stderr()).contains("karta: log stream lost (the server closed the stream); reconnecting…\n")
                .endsWith("doomed-shop' not found\n");
    }
}
