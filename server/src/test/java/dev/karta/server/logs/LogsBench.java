package dev.karta.server.logs;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.lang.management.ManagementFactory;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;

/**
 * The server side of bench/logs.sh (not a test: a main). Starts a real server, measures write
 * throughput without tailers, starts the client program (bench/LogTailers.java) with N tailing
 * SSE clients in its own JVM, reads this server's heap and thread count with them connected,
 * writes timed entries at a fixed rate for the latency figures, and measures write throughput
 * again with the tailers attached.
 *
 * <p>Arguments: CLIENTS RATE_PER_SECOND SECONDS CLIENT_SOURCE_FILE
 */
final class LogsBench {
    private LogsBench() {
    }

    public static void main(String[] args) throws Exception {
        int clients = Integer.parseInt(args[0]);
        int rate = Integer.parseInt(args[1]);
        int seconds = Integer.parseInt(args[2]);
        String clientSource = args[3];
        Path dir = Files.createTempDirectory("karta-logs-bench");
        // A long key cache: a thousand clients connecting at once must not queue on bcrypt (see the report).
        try (LogsHarness server = LogsHarness.start(dir, dev.karta.server.Config.Logs.DEFAULTS, Duration.ofHours(1))) {
            server.get("/whoami", server.adminKey);
            String project = server.createProject("bench");
            String noise = server.createProject("bench-other");

            System.out.printf("write throughput, no tailers:   %,d entries/s (4 writers, 5 s)%n",
                    throughput(server, project, 4, 5));

            Process tailers = new ProcessBuilder("java", "-Xmx256m", clientSource, Integer.toString(server.port()),
                    server.adminKey, "bench", Integer.toString(clients), Integer.toString(seconds + 60))
                    .redirectErrorStream(true)
                    .start();
            BufferedReader out = new BufferedReader(new InputStreamReader(tailers.getInputStream(),
                    StandardCharsets.UTF_8));
            String line;
            while ((line = out.readLine()) != null && !line.startsWith("CONNECTED")) {
                System.out.println("  client: " + line);
            }
            System.out.println("  client: " + line);
            LockSupport.parkNanos(TimeUnit.SECONDS.toNanos(2));
            System.out.printf("server: %s; JVM threads: %d%n",
                    followers(server), ManagementFactory.getThreadMXBean().getThreadCount());
            heap("server heap with tailers connected");

            AtomicLong peak = new AtomicLong();
            AtomicBoolean sampling = new AtomicBoolean(true);
            Thread sampler = new Thread(() -> {
                while (sampling.get()) {
                    peak.accumulateAndGet(ManagementFactory.getMemoryMXBean().getHeapMemoryUsage().getUsed(), Math::max);
                    LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(20));
                }
            });
            sampler.start();
            long period = TimeUnit.SECONDS.toNanos(1) / rate;
            long next = System.nanoTime();
            for (int i = 0; i < rate * seconds; i++) {
                LockSupport.parkNanos(next - System.nanoTime());
                next += period;
                Instant now = Instant.now();
                server.append(project, LogSource.BUILD, "lat " + (now.getEpochSecond() * 1_000_000 + now.getNano() / 1_000));
                if (i % 10 == 0) {
                    server.append(noise, LogSource.BUILD, "another project's line");
                }
            }
            System.out.printf("wrote %d timed entries at %d/s to %d tailers%n", rate * seconds, rate, clients);
            server.append(project, LogSource.BUILD, "done");
            while ((line = out.readLine()) != null) {
                System.out.println("  client: " + line);
                if (line.startsWith("LATENCY")) {
                    break;
                }
            }
            System.out.printf("write throughput, %d tailers: %,d entries/s (4 writers, 5 s; every entry fanned out)%n",
                    clients, throughput(server, project, 4, 5));
            LockSupport.parkNanos(TimeUnit.SECONDS.toNanos(2));
            System.out.printf("after it: %s (tailers that fell %d KiB behind were cut off)%n", followers(server),
                    dev.karta.server.Config.Logs.DEFAULTS.streamBuffer() >> 10);
            sampling.set(false);
            sampler.join();
            System.out.printf("server heap, peak sampled during delivery: %d MB (of max %d MB)%n",
                    peak.get() >> 20, Runtime.getRuntime().maxMemory() >> 20);
            tailers.destroy();
            tailers.waitFor(10, TimeUnit.SECONDS);
        }
    }

    /** The live-follower gauge, as /metrics shows it. */
    private static String followers(LogsHarness server) {
        return server.get("/metrics", null).body().lines().filter(l -> l.startsWith("karta_logs_followers"))
                .findFirst().orElse("karta_logs_followers ?");
    }

    private static void heap(String label) {
        System.gc();
        var heap = ManagementFactory.getMemoryMXBean().getHeapMemoryUsage();
        System.out.printf("%s: %d MB used after GC (committed %d MB, max %d MB)%n", label, heap.getUsed() >> 20,
                heap.getCommitted() >> 20, heap.getMax() >> 20);
    }

    private static long throughput(LogsHarness server, String project, int writers, int seconds)
            throws InterruptedException {
        AtomicLong written = new AtomicLong();
        long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(seconds);
        List<Thread> threads = new ArrayList<>();
        for (int w = 0; w < writers; w++) {
            Thread t = new Thread(() -> {
                while (System.nanoTime() < end) {
                    server.append(project, LogSource.BUILD, "throughput line of about the size of a build log line");
                    written.incrementAndGet();
                }
            });
            t.start();
            threads.add(t);
        }
        for (Thread t : threads) {
            t.join();
        }
        return written.get() / seconds;
    }
}
