package dev.karta.server.sessions;

import com.fasterxml.jackson.databind.JsonNode;
import dev.karta.server.Config;
import dev.karta.server.testkit.TestServer;
import dev.karta.server.testkit.TestServer.Response;
import dev.karta.server.testkit.TarBuilder;
import java.io.IOException;
import java.io.InputStream;
import java.net.http.HttpRequest;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;

/**
 * Workspace benchmark, run by {@code bench/workspaces.sh} (not a test): for a release of
 * {@code files} files and {@code megabytes} MB (default 5,000 files, 50 MB), the time of the
 * session creation call itself, the time until the session's workspace is ready (prepared in the
 * background: a copy, or overlay folders where the sandbox mounts overlays), the time to a first
 * answer when the first message follows creation at once, and the bytes on disk per idle session.
 *
 * <p>Arguments: {@code [sessions, default 30] [files, default 5000] [megabytes, default 50]}.
 */
public final class WorkspaceBench {
    private static final String FAKE = """
            echo '{"type":"system","subtype":"init","session_id":"bench"}'
            echo '{"type":"assistant","message":{"content":[{"type":"text","text":"ok"}]}}'
            echo '{"type":"result","subtype":"success","is_error":false,"result":"ok","session_id":"bench"}'
            """;

    private WorkspaceBench() {
    }

    public static void main(String[] args) throws Exception {
        int sessions = args.length > 0 ? Integer.parseInt(args[0]) : 30;
        int files = args.length > 1 ? Integer.parseInt(args[1]) : 5000;
        int megabytes = args.length > 2 ? Integer.parseInt(args[2]) : 50;
        ((ch.qos.logback.classic.Logger) org.slf4j.LoggerFactory.getLogger(org.slf4j.Logger.ROOT_LOGGER_NAME))
                .setLevel(ch.qos.logback.classic.Level.WARN);
        Path dir = Files.createTempDirectory(Path.of(System.getProperty("bench.dir",
                System.getProperty("java.io.tmpdir"))), "karta-wsbench-");
        Path claude = FakeHarness.script(dir.resolve("bin/claude"), FAKE);
        Config.SessionSettings d = Config.SessionSettings.defaults();
        Config.SessionSettings settings = new Config.SessionSettings(claude.toString(), "opencode", d.idleTimeout(),
                Duration.ofSeconds(60), 64, d.maxMessageBytes(), d.maxTurnOutputBytes(), d.harnessEnvironment());
        Config config = TestServer.config(dir.resolve("data"), TestServer.randomKey()).toBuilder().sessions(settings)
                .limits(new Config.Limits(100, 10_000, 64, 50, 0, 5, 30))
                // -Dbench.copies=true: copies even where the sandbox mounts overlays.
                .workspaces(Boolean.getBoolean("bench.copies") ? new Config.Workspaces(null,
                        Config.Workspaces.DEFAULTS.maxWorkspaceBytes(), Config.Workspaces.DEFAULTS.maxWorkspaces(),
                        Config.Workspaces.DEFAULTS.maxStateBytes(), true) : Config.Workspaces.DEFAULTS)
                .build();
        System.out.printf("karta workspace bench: %d cores, a release of %d files, %d MB; %d sessions; %s%n",
                Runtime.getRuntime().availableProcessors(), files, megabytes, sessions,
                Boolean.getBoolean("bench.copies") ? "copies" : "overlays where the sandbox mounts them");
        try (TestServer server = TestServer.start(config)) {
            publish(server, files, (long) megabytes * 1_000_000);
            List<Long> createMs = new ArrayList<>();
            List<Long> readyMs = new ArrayList<>();
            List<String> ids = new ArrayList<>();
            for (int i = 0; i < sessions; i++) {
                long start = System.nanoTime();
                String id = create(server);
                createMs.add(micros(start));
                awaitReady(server, id);
                readyMs.add(micros(start));
                ids.add(id);
            }
            report("creation call (µs)", createMs);
            report("creation until the workspace is ready (µs)", readyMs);

            List<Long> firstAnswer = new ArrayList<>();
            for (int i = 0; i < Math.min(10, sessions); i++) {
                long start = System.nanoTime();
                String id = create(server);
                Response r = server.post("/v1/projects/bench/sessions/" + id + "/messages", server.adminKey(),
                        "{\"text\":\"hi\"}");
                if (r.status() != 200) {
                    throw new IllegalStateException(r.body());
                }
                firstAnswer.add(micros(start));
                ids.add(id);
            }
            report("creation then first answer at once (µs)", firstAnswer);

            Path workspace = dir.resolve("data/workspaces").resolve(ids.get(0));
            System.out.printf("bytes on disk per idle session (du): %s apparent, %s allocated; session JSON "
                            + "workspace_bytes %s%n", du(workspace, "-sb"), du(workspace, "-sk") + " KiB",
                    server.get("/v1/projects/bench/sessions/" + ids.get(0), server.adminKey()).json()
                            .get("workspace_bytes"));
            System.out.printf("all %d workspaces: %s KiB allocated%n", ids.size(),
                    du(dir.resolve("data/workspaces"), "-sk"));
        }
    }

    private static void publish(TestServer server, int files, long bytes) throws Exception {
        TarBuilder tar = new TarBuilder().file("CLAUDE.md", "# bench\n");
        Random random = new Random(42);
        int size = (int) (bytes / files);
        char[] alphabet = "abcdefghijklmnopqrstuvwxyz0123456789 \n".toCharArray();
        for (int i = 0; i < files; i++) {
            char[] content = new char[size];
            for (int c = 0; c < size; c++) {
                content[c] = alphabet[random.nextInt(alphabet.length)];
            }
            tar.file("src/d" + (i % 50) + "/f" + i + ".txt", new String(content));
        }
        byte[] archive = tar.build();
        long start = System.nanoTime();
        Response accepted = server.send(server.request("/agent_projects/bench/releases", server.adminKey())
                .header("Content-Type", "application/gzip")
                .POST(HttpRequest.BodyPublishers.ofByteArray(archive)));
        if (accepted.status() != 202) {
            throw new IllegalStateException(accepted.body());
        }
        String deploy = accepted.json().get("id").asText();
        while (true) {
            JsonNode d = server.get("/agent_projects/bench/deploys/" + deploy, server.adminKey()).json();
            String status = d.get("status").asText();
            if (status.equals("succeeded")) {
                break;
            }
            if (!status.matches("queued|building")) {
                throw new IllegalStateException(d.toString());
            }
            Thread.sleep(50);
        }
        System.out.printf("published: %d bytes compressed in %d ms%n", archive.length, micros(start) / 1000);
    }

    private static String create(TestServer server) {
        Response created = server.post("/v1/projects/bench/sessions", server.adminKey(), "{}");
        if (created.status() != 201) {
            throw new IllegalStateException(created.body());
        }
        return created.json().get("id").asText();
    }

    private static void awaitReady(TestServer server, String id) throws InterruptedException {
        while (server.get("/v1/projects/bench/sessions/" + id, server.adminKey()).json().get("workspace_bytes").isNull()) {
            Thread.sleep(2);
        }
    }

    private static long micros(long startNanos) {
        return (System.nanoTime() - startNanos) / 1000;
    }

    private static void report(String label, List<Long> micros) {
        long[] sorted = micros.stream().mapToLong(Long::longValue).sorted().toArray();
        System.out.printf("%-45s n=%d p50=%d p90=%d p99=%d max=%d%n", label, sorted.length, pct(sorted, 50),
                pct(sorted, 90), pct(sorted, 99), sorted[sorted.length - 1]);
    }

    private static long pct(long[] sorted, int p) {
        return sorted[Math.min(sorted.length - 1, (int) Math.ceil(p / 100.0 * sorted.length) - 1)];
    }

    private static String du(Path path, String flag) throws IOException, InterruptedException {
        Process du = new ProcessBuilder("du", flag, path.toString()).redirectErrorStream(true).start();
        try (InputStream out = du.getInputStream()) {
            String text = new String(out.readAllBytes(), StandardCharsets.UTF_8);
            du.waitFor();
            return Arrays.stream(text.split("\\s+")).findFirst().orElse("?");
        }
    }
}
