package dev.karta.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assumptions.assumeFalse;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.condition.EnabledOnOs;
import org.junit.jupiter.api.condition.OS;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * Ctrl-C in a real process: {@code karta logs --tail} runs in a child JVM, gets SIGINT as a
 * terminal sends it, and exits 0 with everything it printed flushed.
 */
@EnabledOnOs({OS.LINUX, OS.MAC})
class LogsCtrlCTest {
    @RegisterExtension
    static final CliServer cli = new CliServer();

    @Test
    void sigint_stops_the_tail_with_exit_0() throws Exception {
        Run karta = cli.karta();
        LogsCommandTest.publish(karta, cli.home(), "sigint-shop", "v1");
        int entries = LogsCommandTest.serverLog(karta, "sigint-shop").size();
        String classpath = System.getProperty("surefire.test.class.path", System.getProperty("java.class.path"));
        ProcessBuilder builder = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-cp", classpath, Main.class.getName(), "logs", "sigint-shop", "--tail");
        builder.environment().put("KARTA_SERVER", cli.server().url());
        builder.environment().put("KARTA_API_KEY", TestServer.ADMIN_KEY);
        builder.environment().put("HOME", cli.home().toString());
        Process child = builder.start();
        try {
            ByteArrayOutputStream out = drain(child.getInputStream());
            ByteArrayOutputStream err = drain(child.getErrorStream());
            await().atMost(Duration.ofSeconds(30)).until(() -> out.toString(StandardCharsets.UTF_8).lines().count() >= entries);
            assumeFalse(ignoresSigint(child.pid()), "SIGINT is ignored in this environment (a background job)");

            Process kill = new ProcessBuilder("kill", "-INT", Long.toString(child.pid())).start();
            assertThat(kill.waitFor(10, TimeUnit.SECONDS)).isTrue();
            assertThat(child.waitFor(20, TimeUnit.SECONDS)).as("the tail ended").isTrue();

            assertThat(child.exitValue()).as(err.toString(StandardCharsets.UTF_8)).isZero();
            assertThat(out.toString(StandardCharsets.UTF_8).lines().count()).isEqualTo(entries);
            assertThat(out.toString(StandardCharsets.UTF_8)).contains("release");
        } finally {
            child.destroyForcibly();
        }
    }

    /** Whether the process was started with SIGINT ignored ({@code SigIgn} in /proc, bit 1 is signal 2). */
    private static boolean ignoresSigint(long pid) throws IOException {
        Path status = Path.of("/proc", Long.toString(pid), "status");
        if (!Files.exists(status)) {
            return false;
        }
        List<String> lines = Files.readAllLines(status);
        return lines.stream().filter(line -> line.startsWith("SigIgn:"))
                .anyMatch(line -> (Long.parseLong(line.substring(7).trim(), 16) & 2) != 0);
    }

    private static ByteArrayOutputStream drain(InputStream in) {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        Thread thread = new Thread(() -> {
            try {
                in.transferTo(bytes);
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }, "child-output");
        thread.setDaemon(true);
        thread.start();
        return bytes;
    }
}
