package dev.karta.server.process;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.locks.LockSupport;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

class ProcessLauncherTest {
    private static final Map<String, String> SERVER_ENV = Map.of("PATH", "/usr/local/bin:/usr/bin:/bin",
            "HOME", "/root", "LANG", "C.UTF-8", "KARTA_BOOTSTRAP_KEY", "secret");

    @TempDir
    Path dir;

    private static String sleeper(String marker) {
        return "/usr/bin/python3 -S -c 'import time; time.sleep(300)' " + marker;
    }

    private ProcessLauncher launcher(ProcessLauncher.Containment containment) {
        return containment == null ? ProcessLauncher.detect(SERVER_ENV) : new ProcessLauncher(containment, SERVER_ENV);
    }

    @Test
    void as_root_children_run_in_their_own_pid_namespace() {
        assumeTrue("root".equals(ProcessHandle.current().info().user().orElse("")), "CI runs as root");
        try (ProcessLauncher launcher = ProcessLauncher.detect(SERVER_ENV)) {
            assertThat(launcher.containment()).as("CI runs as root with util-linux")
                    .isEqualTo(ProcessLauncher.Containment.PID_NAMESPACE);
        }
    }

    @ParameterizedTest
    @EnumSource(names = {"PID_NAMESPACE", "PROCESS_TREE"})
    void killing_a_child_kills_its_setsid_and_nohup_descendants(ProcessLauncher.Containment containment)
            throws Exception {
        String setsid = dir.resolve("setsid-child").toString();
        String nohup = dir.resolve("nohup-child").toString();
        try (ProcessLauncher launcher = launcher(containment)) {
            Child child = launcher.start(new ProcessLauncher.Command(List.of("sh", "-c",
                    "( setsid " + sleeper(setsid) + " & ); nohup " + sleeper(nohup) + " >/dev/null 2>&1 & "
                            + "echo started; exec " + sleeper(dir.resolve("parent").toString())), dir,
                    launcher.baseEnvironment()), true);
            assertThat(new String(child.process().getInputStream().readNBytes(8), StandardCharsets.UTF_8))
                    .isEqualTo("started\n");
            await().atMost(Duration.ofSeconds(5)).until(() -> LiveProcesses.anyWith(setsid)
                    && LiveProcesses.anyWith(nohup));

            child.kill();

            await().atMost(Duration.ofSeconds(5)).until(() -> !LiveProcesses.anyWith(nohup)
                    && !LiveProcesses.anyWith(dir.resolve("parent").toString()));
            // Without a namespace, a grandchild that left the process group at once is out of reach
            // (the documented limit of the fallback); in a namespace it dies with the rest.
            if (containment == ProcessLauncher.Containment.PID_NAMESPACE) {
                await().atMost(Duration.ofSeconds(5)).until(() -> !LiveProcesses.anyWith(setsid));
            }
        } finally {
            killLeftovers();
        }
    }

    @Test
    void a_child_gets_exactly_the_environment_it_is_given() throws Exception {
        try (ProcessLauncher launcher = ProcessLauncher.detect(SERVER_ENV)) {
            assertThat(launcher.baseEnvironment()).containsOnlyKeys("PATH", "HOME", "LANG");
            List<String> lines = new ArrayList<>();
            ProcessLauncher.Outcome outcome = launcher.run(new ProcessLauncher.Command(List.of("env"), dir,
                    launcher.baseEnvironment()), Duration.ofSeconds(10), 1 << 20, lines::add);

            assertThat(outcome.exitCode()).isZero();
            Set<String> names = lines.stream().map(line -> line.substring(0, line.indexOf('=')))
                    .collect(Collectors.toCollection(TreeSet::new));
            assertThat(names).containsExactly("HOME", "LANG", "PATH");
        }
    }

    @Test
    void an_environment_with_karta_settings_or_a_database_url_is_refused() {
        assertThatThrownBy(() -> new ProcessLauncher.Command(List.of("env"), dir, Map.of("karta_github_token", "x")))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("KARTA_");
        assertThatThrownBy(() -> new ProcessLauncher.Command(List.of("env"), dir,
                Map.of("DB", "jdbc:postgresql://db/karta?password=x")))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("database URL");
    }

    @Test
    void a_child_outlives_the_thread_that_asked_for_it() throws Exception {
        String marker = dir.resolve("long-lived").toString();
        try (ProcessLauncher launcher = ProcessLauncher.detect(SERVER_ENV)) {
            // Linux sends the parent-death signal when the thread that forked the child ends.
            Thread asker = new Thread(() -> {
                try {
                    launcher.start(new ProcessLauncher.Command(List.of("/usr/bin/python3", "-S", "-c",
                            "import time; time.sleep(300)", marker), dir, launcher.baseEnvironment()), false);
                } catch (IOException e) {
                    throw new IllegalStateException(e);
                }
            });
            asker.start();
            asker.join();
            await().atMost(Duration.ofSeconds(5)).until(() -> LiveProcesses.anyWith(marker));

            await().during(Duration.ofSeconds(1)).atMost(Duration.ofSeconds(2)).until(() -> LiveProcesses.anyWith(marker));
        } finally {
            killLeftovers();
        }
    }

    @Test
    void closing_the_launcher_kills_children_still_running() throws Exception {
        String marker = dir.resolve("orphaned-by-close").toString();
        ProcessLauncher launcher = ProcessLauncher.detect(SERVER_ENV);
        try {
            launcher.start(new ProcessLauncher.Command(List.of("/usr/bin/python3", "-S", "-c",
                    "import time; time.sleep(300)", marker), dir, launcher.baseEnvironment()), false);
            await().atMost(Duration.ofSeconds(5)).until(() -> LiveProcesses.anyWith(marker));

            launcher.close();

            await().atMost(Duration.ofSeconds(5)).until(() -> !LiveProcesses.anyWith(marker));
        } finally {
            launcher.close();
            killLeftovers();
        }
    }

    @Test
    void run_stops_a_child_past_its_time_or_output_limit() throws Exception {
        try (ProcessLauncher launcher = ProcessLauncher.detect(SERVER_ENV)) {
            String slow = dir.resolve("slow").toString();
            ProcessLauncher.Outcome late = launcher.run(new ProcessLauncher.Command(List.of("sh", "-c",
                    "exec " + sleeper(slow)), dir, launcher.baseEnvironment()), Duration.ofMillis(300), 1024, l -> { });
            assertThat(late.timedOut()).isTrue();
            assertThat(LiveProcesses.anyWith(slow)).isFalse();

            ProcessLauncher.Outcome loud = CompletableFuture.supplyAsync(() -> {
                try {
                    return launcher.run(new ProcessLauncher.Command(List.of("yes"), dir, launcher.baseEnvironment()),
                            Duration.ofSeconds(30), 4096, l -> { });
                } catch (IOException | InterruptedException e) {
                    throw new IllegalStateException(e);
                }
            }).get();
            assertThat(loud.overflowed()).isTrue();
            assertThat(loud.timedOut()).isFalse();
        }
    }

    @ParameterizedTest
    @EnumSource(ProcessLauncher.Containment.class)
    void run_hands_over_every_line_a_child_printed_before_it_exited(ProcessLauncher.Containment containment)
            throws Exception {
        try (ProcessLauncher launcher = launcher(containment)) {
            List<String> lines = new CopyOnWriteArrayList<>();
            // A slow consumer (a loaded machine): the child prints its last line and exits while the
            // first one is still being handed over.
            ProcessLauncher.Outcome outcome = launcher.run(new ProcessLauncher.Command(List.of("sh", "-c",
                    "echo first; sleep 0.1; echo last; exit 3"), dir, launcher.baseEnvironment()),
                    Duration.ofSeconds(30), 4096, line -> {
                        lines.add(line);
                        if (line.equals("first")) {
                            LockSupport.parkNanos(Duration.ofMillis(600).toNanos());
                        }
                    });

            assertThat(outcome.exitCode()).isEqualTo(3);
            assertThat(lines).containsExactly("first", "last");
        }
    }

    @Test
    void a_missing_executable_fails_to_start_like_process_builder() {
        try (ProcessLauncher launcher = ProcessLauncher.detect(SERVER_ENV)) {
            assertThatThrownBy(() -> launcher.start(new ProcessLauncher.Command(
                    List.of(dir.resolve("nope").toString()), dir, Map.of()), false))
                    .isInstanceOf(IOException.class).hasMessageContaining("error=2, No such file or directory");
        }
    }

    /** Leaves nothing behind when an assertion failed before the kill under test. */
    private void killLeftovers() {
        String mark = dir.toString();
        ProcessHandle.allProcesses().filter(p -> p.info().arguments().map(Arrays::asList).orElse(List.of()).stream()
                .anyMatch(a -> a.contains(mark))).forEach(ProcessHandle::destroyForcibly);
    }
}
