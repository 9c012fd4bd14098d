package dev.karta.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.karta.api.Json;
import dev.karta.api.SendMessage;
import dev.karta.server.Config;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.time.YearMonth;
import java.time.ZoneOffset;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * {@code karta sessions list | show | end} and {@code karta usage} against a real server whose
 * {@code claude} is a fake harness (the one process edge): apps are published through the real
 * upload route, sessions opened and messages sent through the real session API.
 */
class SessionsCommandTest {
    private static final String REPLY = "hello from the fake harness";
    private static final ObjectMapper JSON = Json.newMapper();
    private static final HttpClient HTTP = HttpClient.newHttpClient();

    @RegisterExtension
    static final CliServer cli = CliServer.withSessions(bin -> new Config.SessionSettings(fakeClaude(bin),
            "opencode", Duration.ofMinutes(10), Duration.ofSeconds(20), 4, 100_000, 1L << 20,
            Config.SessionSettings.inheritedEnvironment(List.of())));

    @Test
    void list_shows_each_session_newest_first_with_its_pinned_version_and_turns() throws Exception {
        Path app = app("listed");
        publish(app, "listed");
        String first = openSession("listed", "{}");
        send("listed", first, "where is my order?");
        Files.writeString(app.resolve("CLAUDE.md"), "# listed, second release\n");
        publish(app, "listed");
        String second = openSession("listed", "{}");

        Run.Result list = cli.karta().run("sessions", "list", "listed");

        assertThat(list.exitCode()).as(list.toString()).isZero();
        List<String> lines = list.stdout().lines().toList();
        assertThat(lines).hasSize(3);
        assertThat(lines.get(0)).matches("ID +VERSION +STATUS +TURNS +HARNESS +CREATED +UPDATED");
        assertThat(lines.get(1)).matches(Pattern.quote(second) + " +v2 +idle +0 +claude +(just now|\\d+s ago) +(just now|\\d+s ago)");
        assertThat(lines.get(2)).matches(Pattern.quote(first) + " +v1 +idle +1 +claude +(just now|\\d+s ago) +(just now|\\d+s ago)");
        assertThat(lines.subList(1, 3)).allSatisfy(line -> {
            assertThat(line.indexOf(" v") + 1).as("aligned VERSION column").isEqualTo(lines.get(0).indexOf("VERSION"));
            assertThat(line.indexOf(" idle") + 1).as("aligned STATUS column").isEqualTo(lines.get(0).indexOf("STATUS"));
        });
    }

    @Test
    void list_filters_by_status_and_limits_the_count() throws Exception {
        publish(app("filtered"), "filtered");
        String ended = openSession("filtered", "{}");
        String idle = openSession("filtered", "{}");
        assertThat(cli.karta().run("sessions", "end", "filtered", ended).exitCode()).isZero();

        Run.Result endedOnly = cli.karta().run("sessions", "list", "filtered", "--status", "ended");
        Run.Result idleOnly = cli.karta().run("sessions", "list", "filtered", "--status", "idle");
        Run.Result newest = cli.karta().run("sessions", "list", "filtered", "--limit", "1");
        Run.Result runningNone = cli.karta().run("sessions", "list", "filtered", "--status", "running");

        assertThat(endedOnly.stdout()).contains(ended + " ").doesNotContain(idle);
        assertThat(idleOnly.stdout()).contains(idle + " ").doesNotContain(ended);
        assertThat(newest.stdout().lines().toList()).hasSize(2);
        assertThat(newest.stdout()).contains(idle + " ");
        assertThat(runningNone.exitCode()).isZero();
        assertThat(runningNone.stdout()).isEmpty();
        assertThat(runningNone.stderr()).isEqualTo("No running sessions of filtered.\n");
    }

    @Test
    void list_without_sessions_says_so_on_stderr() throws Exception {
        publish(app("quiet"), "quiet");

        Run.Result list = cli.karta().run("sessions", "list", "quiet");

        assertThat(list.exitCode()).isZero();
        assertThat(list.stdout()).isEmpty();
        assertThat(list.stderr()).isEqualTo("No sessions of quiet yet.\n");
    }

    @Test
    void projects_info_shows_live_sessions_per_release_with_the_older_one_draining() throws Exception {
        Path app = app("draining");
        publish(app, "draining");
        openSession("draining", "{}");
        openSession("draining", "{}");
        String ended = openSession("draining", "{}");
        assertThat(cli.karta().run("sessions", "end", "draining", ended).exitCode()).isZero();
        Files.writeString(app.resolve("CLAUDE.md"), "# draining, second release\n");
        publish(app, "draining");
        openSession("draining", "{}");

        Run.Result info = cli.karta().run("projects", "info", "draining");
        Run.Result json = cli.karta().run("projects", "info", "draining", "--json");

        assertThat(info.exitCode()).as(info.toString()).isZero();
        assertThat(info.stdout()).contains("\nSessions:    v2: active, 1 live session; v1: 2 live sessions (draining)\n");
        assertThat(JSON.readTree(json.stdout()).get("live_sessions").toString()).isEqualTo(
                "[{\"version\":\"v2\",\"active\":true,\"sessions\":1},"
                        + "{\"version\":\"v1\",\"active\":false,\"sessions\":2}]");
    }

    @Test
    void list_with_json_prints_the_servers_object() throws Exception {
        publish(app("json-listed"), "json-listed");
        String id = openSession("json-listed", "{\"metadata\":{\"customer\":\"c-42\"}}");

        Run.Result list = cli.karta().run("sessions", "list", "json-listed", "--json");

        assertThat(list.exitCode()).as(list.toString()).isZero();
        JsonNode session = JSON.readTree(list.stdout()).get("sessions").get(0);
        assertThat(session.get("id").asText()).isEqualTo(id);
        assertThat(session.at("/project/version").asText()).isEqualTo("v1");
        assertThat(session.at("/metadata/customer").asText()).isEqualTo("c-42");
        assertThat(list.stdout()).contains("\n  \"sessions\": [");
    }

    @Test
    void show_prints_aligned_fields_then_the_metadata() throws Exception {
        publish(app("shown"), "shown");
        String id = openSession("shown", "{\"metadata\":{\"customer\":\"c-42\",\"channel\":\"web\"}}");
        send("shown", id, "hello");

        Run.Result show = cli.karta().run("sessions", "show", "shown", id);

        assertThat(show.exitCode()).as(show.toString()).isZero();
        List<String> lines = show.stdout().lines().toList();
        assertThat(lines).extracting(line -> line.substring(0, line.indexOf(':'))).containsExactly(
                "id", "project", "version", "status", "harness", "turns", "workspace", "created", "updated",
                "metadata.channel", "metadata.customer");
        assertThat(show.stdout())
                .contains("id:                 " + id + "\n")
                .contains("project:            shown\n")
                .contains("version:            v1\n")
                .contains("status:             idle\n")
                .contains("harness:            claude\n")
                .contains("turns:              1\n")
                .containsPattern("workspace: +[1-9][0-9]* bytes\n")
                .containsPattern("created: +\\d{4}-\\d\\d-\\d\\dT[0-9:.]+Z \\((just now|\\d+s ago)\\)\n")
                .contains("metadata.channel:   web\n")
                .contains("metadata.customer:  c-42\n")
                .doesNotContain("ended");
    }

    @Test
    void show_removes_control_characters_from_metadata() throws Exception {
        publish(app("escaped"), "escaped");
        String id = openSession("escaped", "{\"metadata\":{\"note\":\"two\\nlines \\u001b[31mred\"}}");

        Run.Result show = cli.karta().run("sessions", "show", "escaped", id);

        assertThat(show.stdout()).contains("metadata.note:  two lines red\n").doesNotContain("\u001b");
    }

    @Test
    void show_with_json_prints_the_servers_object() throws Exception {
        publish(app("json-shown"), "json-shown");
        String id = openSession("json-shown", "{}");

        Run.Result show = cli.karta().run("--json", "sessions", "show", "json-shown", id);

        JsonNode session = JSON.readTree(show.stdout());
        assertThat(session.get("id").asText()).isEqualTo(id);
        assertThat(session.get("status").asText()).isEqualTo("idle");
        assertThat(session.get("turns").asInt()).isZero();
    }

    @Test
    void end_ends_the_session_and_show_then_says_when_and_why() throws Exception {
        publish(app("ending"), "ending");
        String id = openSession("ending", "{\"metadata\":{\"customer\":\"c-7\"}}");

        Run.Result end = cli.karta().run("sessions", "end", "ending", id);
        Run.Result again = cli.karta().run("sessions", "end", "ending", id);
        Run.Result show = cli.karta().run("sessions", "show", "ending", id);

        assertThat(end.exitCode()).as(end.toString()).isZero();
        assertThat(end.stdout()).isEqualTo("Ended session " + id + "\n");
        assertThat(again.exitCode()).as("ending an ended session is a no-op").isZero();
        assertThat(show.stdout()).containsPattern("status: +ended\n")
                .containsPattern("workspace: +none on the server\n")
                .containsPattern("updated: +\\S+ \\([^)]+\\)\nended: +\\d{4}-\\S+Z \\((just now|\\d+s ago), deleted\\)\nmetadata.customer: +c-7\n");
        assertThat(sessionJson("ending", id).get("status").asText()).isEqualTo("ended");
        assertThat(send("ending", id, "still there?").statusCode()).isEqualTo(409);
    }

    @Test
    void usage_counts_deploys_builds_releases_sessions_and_messages() throws Exception {
        Path app = app("metered");
        publish(app, "metered");
        Files.writeString(app.resolve("karta.toml"), "entry_point = \n");
        assertThat(cli.karta().workingDir(app).run("publish", "metered").exitCode()).isEqualTo(1);
        String first = openSession("metered", "{}");
        openSession("metered", "{}");
        assertThat(send("metered", first, "one").statusCode()).isEqualTo(200);
        assertThat(send("metered", first, "two").statusCode()).isEqualTo(200);
        String thisMonth = YearMonth.now(ZoneOffset.UTC).toString();

        Run.Result usage = cli.karta().run("usage", "metered");

        assertThat(usage.exitCode()).as(usage.toString()).isZero();
        assertThat(usage.stdout()).matches("""
                Usage of metered in %s
                deploys    2
                builds     1 succeeded, 1 failed \\(\\d+\\.\\d s\\)
                releases   1
                sessions   2
                messages   2
                stored     \\d+(\\.\\d)? [KMG]?B
                """.formatted(thisMonth));
    }

    @Test
    void usage_with_json_or_an_earlier_period_asks_the_server_for_that_month() throws Exception {
        publish(app("periodic"), "periodic");
        openSession("periodic", "{}");

        Run.Result json = cli.karta().run("usage", "periodic", "--json");
        Run.Result past = cli.karta().run("usage", "periodic", "--period", "2001-02");

        JsonNode body = JSON.readTree(json.stdout());
        assertThat(body.get("period").asText()).isEqualTo(YearMonth.now(ZoneOffset.UTC).toString());
        assertThat(body.get("deploys").asLong()).isEqualTo(1);
        assertThat(body.get("sessions").asLong()).isEqualTo(1);
        assertThat(body.get("stored_bytes").asLong()).isPositive();
        assertThat(past.exitCode()).as(past.toString()).isZero();
        assertThat(past.stdout()).startsWith("Usage of periodic in 2001-02\ndeploys    0\n")
                .contains("builds     0 succeeded, 0 failed (0.0 s)\n")
                .contains("sessions   0\n").contains("messages   0\n");
    }

    @Test
    void unknown_projects_and_sessions_exit_4() throws Exception {
        publish(app("known"), "known");

        assertThat(cli.karta().run("sessions", "list", "no-such-app")).satisfies(r -> {
            assertThat(r.exitCode()).isEqualTo(4);
            assertThat(r.stderr()).isEqualTo("karta: project 'no-such-app' not found\n");
        });
        assertThat(cli.karta().run("sessions", "show", "known", "sess_nothere").exitCode()).isEqualTo(4);
        assertThat(cli.karta().run("sessions", "end", "known", "sess_nothere").exitCode()).isEqualTo(4);
        assertThat(cli.karta().run("usage", "no-such-app").exitCode()).isEqualTo(4);
    }

    @Test
    void bad_status_period_or_limit_exit_2() {
        assertThat(cli.karta().run("projects", "create", "strict").exitCode()).isZero();

        Run.Result status = cli.karta().run("sessions", "list", "strict", "--status", "asleep");
        Run.Result period = cli.karta().run("usage", "strict", "--period", "2026-13");
        Run.Result shortPeriod = cli.karta().run("usage", "strict", "--period", "26-11");
        Run.Result limit = cli.karta().run("sessions", "list", "strict", "--limit", "501");

        assertThat(status.exitCode()).isEqualTo(2);
        assertThat(status.stderr()).contains("idle, running, ended");
        assertThat(period.exitCode()).isEqualTo(2);
        assertThat(period.stderr()).isEqualTo("karta: --period must be a month as YYYY-MM, e.g. 2026-11, got '2026-13'\n");
        assertThat(shortPeriod.exitCode()).isEqualTo(2);
        assertThat(limit.exitCode()).as("the server's 400 to --limit 501 is a usage error").isEqualTo(2);
        assertThat(limit.stderr()).startsWith("karta: limit must be between 1 and 500");
    }

    @Test
    void a_read_key_lists_but_cannot_end_and_a_bad_key_exits_3() throws Exception {
        publish(app("guarded"), "guarded");
        String id = openSession("guarded", "{}");
        Matcher secret = Pattern.compile("kt_live_[A-Za-z0-9]{32}")
                .matcher(cli.karta().run("keys", "create", "watcher", "--scope", "read").stdout());
        assertThat(secret.find()).isTrue();
        Run reader = cli.as(secret.group());
        Run stranger = cli.as("kt_live_" + "x".repeat(32));

        assertThat(reader.run("sessions", "list", "guarded").exitCode()).isZero();
        assertThat(reader.run("usage", "guarded").exitCode()).isZero();
        Run.Result end = reader.run("sessions", "end", "guarded", id);
        assertThat(end.exitCode()).isEqualTo(3);
        assertThat(end.stderr()).startsWith("karta: ");
        assertThat(stranger.run("sessions", "show", "guarded", id).exitCode()).isEqualTo(3);
        assertThat(stranger.run("usage", "guarded").exitCode()).isEqualTo(3);
        assertThat(sessionJson("guarded", id).get("status").asText()).isEqualTo("idle");
    }

    /** A Claude Code app in {@code home/NAME}. */
    private Path app(String name) throws IOException {
        Path dir = cli.home().resolve(name);
        Files.createDirectories(dir);
        Files.writeString(dir.resolve("CLAUDE.md"), "# " + name + "\n");
        return dir;
    }

    private void publish(Path dir, String project) {
        Run.Result publish = cli.karta().workingDir(dir).run("publish", project);
        cli.karta().workingDir(cli.home());
        assertThat(publish.exitCode()).as(publish.toString()).isZero();
    }

    private String openSession(String project, String body) throws Exception {
        HttpResponse<String> created = post("/v1/projects/" + project + "/sessions", body);
        assertThat(created.statusCode()).as(created.body()).isEqualTo(201);
        return JSON.readTree(created.body()).get("id").asText();
    }

    private HttpResponse<String> send(String project, String session, String text) throws Exception {
        HttpResponse<String> reply = post("/v1/projects/" + project + "/sessions/" + session + "/messages",
                JSON.writeValueAsString(new SendMessage(text, false)));
        if (reply.statusCode() == 200) {
            assertThat(JSON.readTree(reply.body()).at("/message/text").asText()).isEqualTo(REPLY);
        }
        return reply;
    }

    private JsonNode sessionJson(String project, String session) throws Exception {
        HttpResponse<String> got = HTTP.send(HttpRequest.newBuilder(URI.create(cli.server().url() + "/v1/projects/"
                        + project + "/sessions/" + session))
                .header("Authorization", "Bearer " + TestServer.ADMIN_KEY).build(), HttpResponse.BodyHandlers.ofString());
        assertThat(got.statusCode()).as(got.body()).isEqualTo(200);
        return JSON.readTree(got.body());
    }

    private static HttpResponse<String> post(String path, String body) throws Exception {
        return HTTP.send(HttpRequest.newBuilder(URI.create(cli.server().url() + path))
                .header("Authorization", "Bearer " + TestServer.ADMIN_KEY)
                .header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString(body)).build(), HttpResponse.BodyHandlers.ofString());
    }

    /**
     * A stand-in for {@code claude -p TEXT --output-format stream-json --verbose}: the three
     * stream-json lines of one successful turn, whatever it is asked.
     */
    private static String fakeClaude(Path bin) throws IOException {
        Files.createDirectories(bin);
        Path claude = bin.resolve("claude");
        Files.writeString(claude, """
                #!/bin/sh
                echo '{"type":"system","subtype":"init","session_id":"fake-conversation"}'
                echo '{"type":"assistant","message":{"content":[{"type":"text","text":"%s"}]}}'
                echo '{"type":"result","subtype":"success","is_error":false,"result":"%s","session_id":"fake-conversation"}'
                """.formatted(REPLY, REPLY));
        Files.setPosixFilePermissions(claude, PosixFilePermissions.fromString("rwxr-xr-x"));
        return claude.toString();
    }
}
