package dev.karta.server.bench;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.karta.server.Config;
import dev.karta.server.build.Materializer;
import dev.karta.server.testkit.TestServer;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.http.HttpRequest;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

/**
 * Release benchmarks, run by {@code bench/releases.sh}: materialization of a large app
 * side by side with {@code tar -xzf} of the same file on the same disk, publish-to-active wall
 * time of the example app, and rollback latency and rate over HTTP. Prints one line per figure.
 */
public final class ReleaseBench {
    private static final ObjectMapper JSON = new ObjectMapper();

    public static void main(String[] args) throws Exception {
        Path work = Files.createTempDirectory("karta-bench");
        Path bigArchive = Path.of(args[0]);
        Path exampleArchive = Path.of(args[1]);
        try {
            materialize(work, bigArchive);
            try (TestServer server = TestServer.start(TestServer.config(work.resolve("data"), TestServer.randomKey()))) {
                publish(server, Files.readAllBytes(exampleArchive));
                rollback(server);
            }
        } finally {
            Materializer.deleteRecursively(work);
        }
    }

    private static void materialize(Path work, Path archive) throws Exception {
        Materializer materializer = new Materializer(new Config.ArchiveLimits(1L << 30, 4L << 30, 100_000, 1024, 32));
        List<Double> karta = new ArrayList<>();
        List<Double> tar = new ArrayList<>();
        for (int i = 0; i < 6; i++) {
            Path trees = Files.createDirectories(work.resolve("trees-" + i));
            long t0 = System.nanoTime();
            try (InputStream in = Files.newInputStream(archive)) {
                materializer.materialize(in, trees);
            }
            double k = (System.nanoTime() - t0) / 1e6;
            Path out = Files.createDirectories(work.resolve("tar-" + i));
            long t1 = System.nanoTime();
            Process p = new ProcessBuilder("tar", "-xzf", archive.toString(), "-C", out.toString()).inheritIO().start();
            if (p.waitFor() != 0) {
                throw new IllegalStateException("tar failed");
            }
            double t = (System.nanoTime() - t1) / 1e6;
            if (i > 0) {
                karta.add(k);
                tar.add(t);
            }
            Materializer.deleteRecursively(trees);
            Materializer.deleteRecursively(out);
        }
        double mk = median(karta);
        double mt = median(tar);
        long mb = Files.size(archive) >> 20;
        System.out.printf("materialize  %d MiB archive: karta %.0f ms, tar -xzf %.0f ms, ratio %.2fx%n", mb, mk, mt, mk / mt);
    }

    private static void publish(TestServer server, byte[] archive) throws Exception {
        List<Double> times = new ArrayList<>();
        for (int i = 0; i < 60; i++) {
            long t0 = System.nanoTime();
            TestServer.Response accepted = server.send(server.request("/agent_projects/hello/releases", server.adminKey())
                    .header("Content-Type", "application/gzip")
                    .header("X-Karta-Commit", String.format("%040x", i + 1))
                    .POST(HttpRequest.BodyPublishers.ofByteArray(archive)));
            String id = JSON.readTree(accepted.body()).get("id").asText();
            String stream = server.send(server.request("/agent_projects/hello/deploys/" + id + "/logs", server.adminKey())
                    .header("Accept", "text/event-stream").GET()).body();
            if (!stream.contains("\"status\":\"succeeded\"")) {
                throw new IllegalStateException("publish failed: " + stream);
            }
            double ms = (System.nanoTime() - t0) / 1e6;
            if (i >= 10) {
                times.add(ms);
            }
        }
        System.out.printf("publish→active  example app, %d runs after warm-up: p50 %.1f ms, p99 %.1f ms%n",
                times.size(), median(times), percentile(times, 0.99));
    }

    private static void rollback(TestServer server) throws Exception {
        List<Double> times = new ArrayList<>();
        int n = 2000;
        long start = System.nanoTime();
        for (int i = 0; i < n; i++) {
            String to = i % 2 == 0 ? "v1" : "v2";
            long t0 = System.nanoTime();
            TestServer.Response r = server.post("/agent_projects/hello/rollback", server.adminKey(), "{\"to\":\"" + to + "\"}");
            double ms = (System.nanoTime() - t0) / 1e6;
            JsonNode body = JSON.readTree(r.body());
            if (r.status() != 200 || !body.get("active").asText().equals(to)) {
                throw new IllegalStateException("rollback failed: " + r.body());
            }
            if (i >= 200) {
                times.add(ms);
            }
        }
        double seconds = (System.nanoTime() - start) / 1e9;
        System.out.printf("rollback  over HTTP, one client, %d runs: p50 %.2f ms, p99 %.2f ms, %.0f rollbacks/s%n",
                times.size(), median(times), percentile(times, 0.99), n / seconds);
    }

    private static double median(List<Double> values) {
        return percentile(values, 0.5);
    }

    private static double percentile(List<Double> values, double p) {
        List<Double> sorted = new ArrayList<>(values);
        Collections.sort(sorted);
        return sorted.get(Math.min(sorted.size() - 1, (int) Math.floor(p * sorted.size())));
    }

    private ReleaseBench() {
    }

    static InputStream bytes(byte[] data) {
        return new ByteArrayInputStream(data);
    }
}
