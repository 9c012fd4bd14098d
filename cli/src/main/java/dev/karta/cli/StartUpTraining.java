package dev.karta.cli;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.util.List;
import java.util.Map;

/**
 * The run that trains the start-up archive of every {@code karta} launcher (the repository's, the
 * installed one and the npm shim: class-data sharing, or the ahead-of-time cache on JDK 25+ for
 * the repository's; both only hold what one run used). It runs a few typical
 * commands in process against a loopback server of its own that answers canned JSON, so the
 * archive holds a whole request path: picocli, the HTTP client, JSON decoding into the wire
 * records, tables, an error answer. Nothing leaves the machine and nothing is printed. Public
 * because the launcher starts it as a main class ({@code java -cp karta-cli.jar …}).
 */
public final class StartUpTraining {
    private static final String PROJECT = "{\"name\":\"shop-agent\",\"url\":\"http://127.0.0.1/v1/projects/shop-agent\","
            + "\"git_url\":\"http://127.0.0.1/git/shop-agent.git\",\"current_release\":{\"version\":\"v3\","
            + "\"commit_sha\":\"0123456789abcdef0123456789abcdef01234567\"},\"live_sessions\":[],"
            + "\"created_at\":\"2026-01-01T00:00:00Z\"}";
    private static final Map<String, String> ANSWERS = Map.of(
            "/agent_projects", "{\"projects\":[" + PROJECT + "]}",
            "/agent_projects/shop-agent", PROJECT,
            "/whoami", "{\"org\":\"acme\",\"key\":{\"id\":\"key_01\",\"name\":\"laptop\",\"scopes\":[\"read\",\"write\"],"
                    + "\"expires_at\":\"2027-01-01T00:00:00Z\",\"project\":null}}");

    private StartUpTraining() {
    }

    public static void main(String[] args) throws IOException {
        HttpServer server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
        server.createContext("/", StartUpTraining::answer);
        server.start();
        // Every real run starts by reading its process's environment and console; the runs below get
        // canned ones, so this one is made only for the classes it loads.
        Environment.system();
        Path home = Files.createTempDirectory("karta-training");
        try {
            String url = "http://127.0.0.1:" + server.getAddress().getPort();
            // Each command with the exit code it must end with: a failure would leave its path untrained.
            for (Map.Entry<List<String>, Integer> command : List.of(
                    Map.entry(List.of("projects", "list"), 0), Map.entry(List.of("whoami"), 0),
                    Map.entry(List.of("projects", "info", "shop-agent"), 0),
                    Map.entry(List.of("projects", "info", "missing"), CliError.Kind.NOT_FOUND.exitCode()),
                    Map.entry(List.of("projects", "list", "--json"), 0), Map.entry(List.of("--version"), 0))) {
                PrintStream discard = new PrintStream(OutputStream.nullOutputStream(), true, StandardCharsets.UTF_8);
                Environment env = new Environment(
                        Map.of(Settings.ENV_SERVER, url, Settings.ENV_API_KEY, "kt_live_00000000000000000000000000000000"),
                        home, home, new ByteArrayInputStream(new byte[0]), discard, discard, null,
                        Clock.systemUTC(), CtrlC.simulated());
                int code = new Main(env).run(command.getKey().toArray(String[]::new));
                if (code != command.getValue()) {
                    throw new IllegalStateException("training run `karta " + String.join(" ", command.getKey())
                            + "` exited " + code + ", not " + command.getValue());
                }
            }
        } finally {
            server.stop(0);
            Files.deleteIfExists(home);
        }
    }

    private static void answer(HttpExchange exchange) {
        try (exchange) {
            String body = ANSWERS.get(exchange.getRequestURI().getPath());
            int status = body == null ? 404 : 200;
            if (body == null) {
                body = "{\"error\":\"not_found\",\"message\":\"project 'missing' not found\"}";
            }
            byte[] bytes = body.getBytes(StandardCharsets.UTF_8);
            exchange.getResponseHeaders().set("Content-Type", "application/json");
            exchange.sendResponseHeaders(status, bytes.length);
            exchange.getResponseBody().write(bytes);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
