package dev.karta.server.sessions;

import dev.karta.server.Config;
import dev.karta.server.testkit.TarBuilder;
import dev.karta.server.testkit.TestServer.Response;
import dev.karta.server.testkit.TestServer;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Session benchmarks, run by {@code bench/sessions.sh} (not a test: timing targets do not belong
 * in assertions).
 *
 * <ol>
 * <li>Session creation rate and latency while deploys and rollbacks of the same project run in a
 *     loop (target: p99 ≤ 20 ms, no failed creation), next to a quiet baseline.</li>
 * <li>What a turn adds over running the harness process directly: the same tiny fake
 *     {@code claude}, run {@code n} times by {@link ProcessBuilder} in the release tree, then
 *     {@code n} times as {@code POST …/messages} (target: ≤ 30 ms).</li>
 * </ol>
 *
 * Creation latency is measured open-loop: {@code clients} threads together send {@code rate}
 * creations per second on a fixed schedule, and each latency counts from the scheduled send time,
 * so a stall is not hidden by the requests it delayed. The closed-loop phase (as fast as the
 * clients can) gives the rate.
 *
 * Arguments: {@code [seconds per phase, default 20] [clients, default 4] [rate per second,
 * default 100] [turns, default 200]}. System properties: {@code bench.rounds} repeats the quiet
 * and the paced deploy+rollback phases (default 1); {@code bench.creationOnly=true} skips the
 * unpaced phase and the turn overhead. Each created session is ended right away by another
 * thread (not timed), so the org's count of live sessions stays small; its limit is raised for
 * the unpaced phases, which outrun that thread.
 */
public final class SessionBench {
    private static final String FAKE = """
            echo '{"type":"system","subtype":"init","session_id":"bench"}'
            echo '{"type":"assistant","message":{"content":[{"type":"text","text":"ok"}]}}'
            echo '{"type":"result","subtype":"success","is_error":false,"result":"ok","session_id":"bench"}'
            """;

    private SessionBench() {
    }

    public static void main(String[] args) throws Exception {
        int seconds = args.length > 0 ? Integer.parseInt(args[0]) : 20;
        int clients = args.length > 1 ? Integer.parseInt(args[1]) : 4;
        int rate = args.length > 2 ? Integer.parseInt(args[2]) : 100;
        int turns = args.length > 3 ? Integer.parseInt(args[3]) : 200;
        int rounds = Integer.getInteger("bench.rounds", 1);
        boolean creationOnly = Boolean.getBoolean("bench.creationOnly");
        ((ch.qos.logback.classic.Logger) org.slf4j.LoggerFactory.getLogger(org.slf4j.Logger.ROOT_LOGGER_NAME))
                .setLevel(ch.qos.logback.classic.Level.WARN);
        Path dir = Files.createTempDirectory(Path.of(System.getProperty("bench.dir", System.getProperty("java.io.tmpdir"))), "karta-bench-");
        Path claude = FakeHarness.script(dir.resolve("bin/claude"), FAKE);
        Config.SessionSettings d = Config.SessionSettings.defaults();
        Config.SessionSettings settings = new Config.SessionSettings(claude.toString(), "opencode", d.idleTimeout(),
                Duration.ofSeconds(30), 64, d.maxMessageBytes(), d.maxTurnOutputBytes(), d.harnessEnvironment());
        Config d0 = TestServer.config(dir.resolve("data"), TestServer.randomKey());
        Duration keyCache = Duration.parse(System.getProperty("bench.keyCacheTtl", d0.keyCacheTtl().toString()));
        Config.Limits l = d0.limits();
        // Far above what the bench keeps live: an unpaced phase outruns the thread that ends sessions.
        Config.Limits limits = new Config.Limits(l.maxProjectsPerOrg(), 1_000_000, l.maxTurnsPerOrg(),
                l.maxQueuedDeploysPerOrg(), l.maxBuildsPerOrg(), l.keyFailuresPerPrefix(), l.keyFailuresPerAddress());
        Config config = d0.toBuilder().keyCacheTtl(keyCache).sessions(settings).limits(limits)
                // -Dbench.sandbox=bwrap: turns in the sandbox the host allows (bubblewrap, outbound network).
                .sandbox("bwrap".equals(System.getProperty("bench.sandbox")) ? null : SessionFixture.UNSANDBOXED)
                .build();
        System.out.printf("karta session bench: %d cores, %ds per phase, %d clients, %d creations/s paced, %d turns%n",
                Runtime.getRuntime().availableProcessors(), seconds, clients, rate, turns);
        try (TestServer server = TestServer.start(config)) {
            SessionFixtureLite f = new SessionFixtureLite(server);
            f.publish("bench", 0);
            creations(server, "warm-up", Math.max(5, seconds / 2), clients, 0, null);
            for (int round = 1; round <= rounds; round++) {
                String of = rounds == 1 ? "" : " (round " + round + " of " + rounds + ")";
                creations(server, "quiet, paced" + of, seconds, clients, rate, null);
                creations(server, "during deploy+rollback loop, paced" + of, seconds, clients, rate, f);
            }
            if (!creationOnly) {
                creations(server, "during deploy+rollback loop, as fast as possible", seconds, clients, 0, f);
                overhead(server, f, dir.resolve("data"), claude, turns);
            }
        }
    }

    /** Creates sessions for {@code seconds}: paced at {@code rate} per second, or as fast as possible when 0. */
    private static void creations(TestServer server, String label, int seconds, int clients, int rate,
                                  SessionFixtureLite churn) throws Exception {
        AtomicBoolean stop = new AtomicBoolean();
        AtomicInteger failures = new AtomicInteger();
        AtomicLong deploys = new AtomicLong();
        AtomicLong rollbacks = new AtomicLong();
        Thread churner = null;
        if (churn != null) {
            churner = new Thread(() -> {
                int n = 1;
                while (!stop.get()) {
                    String version = churn.publish("bench", n++);
                    deploys.incrementAndGet();
                    churn.rollback("bench", "v1");
                    churn.rollback("bench", version);
                    rollbacks.addAndGet(2);
                }
            }, "churn");
            churner.start();
        }
        java.util.concurrent.ExecutorService ender = java.util.concurrent.Executors.newFixedThreadPool(2);
        List<long[]> perClient = new ArrayList<>();
        List<Thread> threads = new ArrayList<>();
        long start = System.nanoTime();
        long end = start + Duration.ofSeconds(seconds).toNanos();
        long interval = rate == 0 ? 0 : 1_000_000_000L * clients / rate;
        for (int c = 0; c < clients; c++) {
            long[] samples = new long[200_000];
            perClient.add(samples);
            int index = c;
            long offset = rate == 0 ? 0 : 1_000_000_000L * c / rate;
            Thread t = new Thread(() -> {
                int i = 0;
                while (System.nanoTime() < end && i < samples.length) {
                    long t0 = System.nanoTime();
                    if (interval > 0) {
                        t0 = start + offset + i * interval;
                        long wait = t0 - System.nanoTime();
                        if (wait > 0) {
                            java.util.concurrent.locks.LockSupport.parkNanos(wait);
                        }
                    }
                    Response r = server.post("/v1/projects/bench/sessions", server.adminKey(), "{}");
                    samples[i++] = System.nanoTime() - t0;
                    if (r.status() != 201) {
                        failures.incrementAndGet();
                        System.out.println("  failed creation: " + r.status() + " " + r.body());
                    } else {
                        // Ended at once by another thread (not timed, and never delaying the next
                        // creation), as a real client's would be later: the org's live-session
                        // limit stays far away and its count stays small.
                        String id = r.json().get("id").asText();
                        ender.execute(() -> server.delete("/v1/projects/bench/sessions/" + id, server.adminKey()));
                    }
                }
                perClient.set(index, Arrays.copyOf(samples, i));
            });
            threads.add(t);
            t.start();
        }
        for (Thread t : threads) {
            t.join();
        }
        ender.shutdown();
        ender.awaitTermination(1, java.util.concurrent.TimeUnit.MINUTES);
        stop.set(true);
        if (churner != null) {
            churner.join();
        }
        long[] all = perClient.stream().flatMapToLong(Arrays::stream).sorted().toArray();
        System.out.printf("session creation, %s: %d in %ds = %.0f/s; p50 %.2f ms, p99 %.2f ms, p99.9 %.2f ms, "
                        + "max %.2f ms; failed %d%s%n", label, all.length, seconds, all.length / (double) seconds,
                ms(all, 0.50), ms(all, 0.99), ms(all, 0.999), all[all.length - 1] / 1e6, failures.get(),
                churn == null ? "" : "; deploys " + deploys.get() + ", rollbacks " + rollbacks.get());
    }

    private static void overhead(TestServer server, SessionFixtureLite f, Path dataDir, Path claude, int turns)
            throws Exception {
        String version = server.get("/agent_projects/bench", server.adminKey()).json().at("/current_release/version")
                .asText();
        String digest = server.get("/agent_projects/bench/releases/" + version, server.adminKey()).json()
                .get("content_digest").asText();
        Path tree = dataDir.resolve("trees").resolve(digest.substring(digest.indexOf(':') + 1));
        Map<String, String> env = server.server().config().sessions().harnessEnvironment();
        String session = server.post("/v1/projects/bench/sessions", server.adminKey(), "{}").json().get("id").asText();
        for (int i = 0; i < 30; i++) {
            direct(claude, tree, env);
            f.ask("bench", session, "warm up");
        }
        long[] direct = new long[turns];
        long[] viaTurn = new long[turns];
        for (int i = 0; i < turns; i++) {
            long t0 = System.nanoTime();
            direct(claude, tree, env);
            direct[i] = System.nanoTime() - t0;
            t0 = System.nanoTime();
            f.ask("bench", session, "how long?");
            viaTurn[i] = System.nanoTime() - t0;
        }
        Arrays.sort(direct);
        Arrays.sort(viaTurn);
        System.out.printf("harness run directly: p50 %.2f ms, p99 %.2f ms%n", ms(direct, 0.5), ms(direct, 0.99));
        System.out.printf("same harness as a turn (HTTP, claim, logs, finish): p50 %.2f ms, p99 %.2f ms%n",
                ms(viaTurn, 0.5), ms(viaTurn, 0.99));
        System.out.printf("turn overhead: p50 %.2f ms, p99 %.2f ms (%d turns)%n", ms(viaTurn, 0.5) - ms(direct, 0.5),
                ms(viaTurn, 0.99) - ms(direct, 0.99), turns);
    }

    private static void direct(Path claude, Path tree, Map<String, String> env) throws IOException, InterruptedException {
        ProcessBuilder builder = new ProcessBuilder(claude.toString(), "-p", "how long?", "--output-format",
                "stream-json", "--verbose").directory(tree.toFile());
        builder.environment().clear();
        builder.environment().putAll(env);
        Process p = builder.start();
        p.getOutputStream().close();
        try (InputStream out = p.getInputStream()) {
            out.readAllBytes();
        }
        p.waitFor();
    }

    private static double ms(long[] sorted, double quantile) {
        if (sorted.length == 0) {
            return Double.NaN;
        }
        return sorted[Math.min(sorted.length - 1, (int) Math.ceil(quantile * sorted.length) - 1)] / 1e6;
    }

    /** The publish/rollback/ask steps of {@link SessionFixture}, without its test assertions' keys. */
    private static final class SessionFixtureLite {
        private final TestServer server;

        SessionFixtureLite(TestServer server) {
            this.server = server;
        }

        String publish(String project, int n) {
            Response accepted = server.send(server.request("/agent_projects/" + project + "/releases", server.adminKey())
                    .header("Content-Type", "application/gzip")
                    .POST(java.net.http.HttpRequest.BodyPublishers.ofByteArray(TarBuilder.files(
                            SessionFixture.claudeApp("bench " + n)))));
            String deploy = accepted.json().get("id").asText();
            while (true) {
                var d = server.get("/agent_projects/" + project + "/deploys/" + deploy, server.adminKey()).json();
                String status = d.get("status").asText();
                if (status.equals("succeeded")) {
                    return d.get("release").asText();
                }
                if (!status.matches("queued|building")) {
                    throw new IllegalStateException("bench deploy " + status + ": " + d);
                }
                try {
                    Thread.sleep(10);
                } catch (InterruptedException e) {
                    throw new IllegalStateException(e);
                }
            }
        }

        void rollback(String project, String version) {
            Response r = server.post("/agent_projects/" + project + "/rollback", server.adminKey(),
                    "{\"to\":\"" + version + "\",\"pin\":false}");
            if (r.status() != 200) {
                throw new IllegalStateException("rollback: " + r.status() + " " + r.body());
            }
        }

        void ask(String project, String session, String text) {
            Response r = server.post("/v1/projects/" + project + "/sessions/" + session + "/messages", server.adminKey(),
                    "{\"text\":" + SessionFixture.quote(text) + "}");
            if (r.status() != 200) {
                throw new IllegalStateException("turn: " + r.status() + " " + r.body());
            }
        }
    }
}
