package dev.karta.server.process;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The bubblewrap sandbox, run for real: what a confined process can see, write and reach. CI
 * installs bubblewrap and slirp4netns and runs as root, so these run there.
 */
class SandboxTest {
    private static final Map<String, String> SERVER_ENV = Map.of("PATH", "/usr/local/bin:/usr/bin:/bin",
            "HOME", "/root", "LANG", "C.UTF-8");
    private static ProcessLauncher launcher;
    private static Sandbox sandbox;
    @TempDir
    static Path state;
    @TempDir
    Path dir;

    @BeforeAll
    static void start() {
        launcher = ProcessLauncher.detect(SERVER_ENV);
        sandbox = Sandbox.create(launcher, Sandbox.Settings.DEFAULTS, state.resolve("data"), state.resolve("workspaces"));
        assumeTrue(sandbox.mode() == Sandbox.Mode.BWRAP, "bubblewrap is installed (CI installs it)");
    }

    @AfterAll
    static void stop() {
        launcher.close();
    }

    /** Runs {@code script} with /bin/sh in a fresh confinement; answers its exit code and output. */
    private Run run(Sandbox in, Confinement confinement, String script) throws Exception {
        Child child = in.start(new ProcessLauncher.Command(List.of("/bin/sh", "-c", script), confinement.workspace(),
                launcher.baseEnvironment()), confinement);
        try {
            child.process().getOutputStream().close();
            String out = new String(child.process().getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            String err = new String(child.process().getErrorStream().readAllBytes(), StandardCharsets.UTF_8);
            assertThat(child.process().waitFor(60, TimeUnit.SECONDS)).isTrue();
            return new Run(child.process().exitValue(), out, err);
        } finally {
            child.kill();
        }
    }

    private record Run(int exit, String out, String err) {
    }

    private Confinement confinement() throws IOException {
        return Confinement.directory(Files.createDirectories(dir.resolve("workspace")),
                Files.createDirectories(dir.resolve("home")));
    }

    @Test
    void outbound_network_is_the_default_here() {
        assertThat(sandbox.network()).as("slirp4netns is installed (CI installs it)").isEqualTo(Sandbox.Network.OUTBOUND);
    }

    @Test
    void a_confined_process_writes_its_workspace_and_home_and_nothing_else() throws Exception {
        Path secret = Files.writeString(dir.resolve("karta.db"), "every tenant's secrets");
        Confinement c = confinement();
        Run run = run(sandbox, c, "echo w > w.txt && echo h > \"$HOME/h.txt\" && echo \"$HOME\" && pwd; "
                + "cat " + secret + " && echo READ; echo x > " + dir.resolve("outside.txt") + "; touch /usr/x && echo WROTE; touch /x && echo WROTE; "
                + "ls " + state + " && echo LISTED; cat /proc/1/environ | tr '\\0' '\\n' | grep -c KARTA; id -u");
        assertThat(run.out()).as(run.err()).contains("/home/karta\n/workspace\n")
                .doesNotContain("READ", "WROTE", "LISTED", "every tenant");
        assertThat(run.out().strip()).endsWith("\n" + Sandbox.SANDBOX_UID);
        assertThat(c.workspace().resolve("w.txt")).hasContent("w");
        assertThat(c.home().resolve("h.txt")).hasContent("h");
        assertThat(dir.resolve("outside.txt")).as("the sandbox's /tmp is its own").doesNotExist();
    }

    @Test
    void a_confined_process_has_no_capabilities_and_cannot_change_its_routes() throws Exception {
        Run run = run(sandbox, confinement(), "grep CapEff /proc/self/status; ip route; "
                + "ip route del prohibit 10.0.0.0/8 && echo DELETED; unshare -U true && echo USERNS");
        assertThat(run.out()).as(run.err()).contains("CapEff:\t0000000000000000", "prohibit 10.0.0.0/8",
                "default via 10.0.2.2").doesNotContain("DELETED", "USERNS");
    }

    @Test
    void outbound_network_never_reaches_this_hosts_services() throws Exception {
        HttpServer server = HttpServer.create(new InetSocketAddress("0.0.0.0", 0), 0);
        server.createContext("/", exchange -> {
            exchange.sendResponseHeaders(200, 2);
            exchange.getResponseBody().write("ok".getBytes(StandardCharsets.UTF_8));
            exchange.close();
        });
        server.start();
        try {
            int port = server.getAddress().getPort();
            StringBuilder probes = new StringBuilder();
            for (String host : List.of("127.0.0.1", "10.0.2.2", InetAddress.getLocalHost().getHostAddress())) {
                probes.append("python3 -c \"import socket; socket.create_connection(('").append(host).append("', ")
                        .append(port).append("), 3); print('REACHED ").append(host).append("')\" 2>/dev/null; ");
            }
            for (String address : Sandbox.blockedNetworks()) {
                if (address.endsWith("/32")) {
                    String host = address.substring(0, address.length() - 3);
                    probes.append("python3 -c \"import socket; socket.create_connection(('").append(host)
                            .append("', ").append(port).append("), 3); print('REACHED ").append(host)
                            .append("')\" 2>/dev/null; ");
                }
            }
            Run run = run(sandbox, confinement(), probes + "echo done");
            assertThat(run.out()).as(run.err()).contains("done").doesNotContain("REACHED");
            // The same probe on the host's network does reach it: the test can fail.
            Sandbox host = Sandbox.create(launcher, new Sandbox.Settings(Sandbox.Mode.BWRAP, Sandbox.Network.HOST,
                    List.of()), state.resolve("host"), state.resolve("host-workspaces"));
            assertThat(run(host, confinement(), probes.toString()).out()).contains("REACHED 127.0.0.1");
        } finally {
            server.stop(0);
        }
    }

    @Test
    void network_none_has_only_loopback() throws Exception {
        Sandbox none = Sandbox.create(launcher, new Sandbox.Settings(null, Sandbox.Network.NONE, List.of()),
                state.resolve("none"), state.resolve("none-workspaces"));
        Run run = run(none, confinement(), "ip -o link | cut -d: -f2; ip route");
        assertThat(run.out().strip()).as(run.err()).isEqualTo("lo");
    }

    @Test
    void an_overlay_workspace_keeps_the_tree_below_untouched() throws Exception {
        assumeTrue(sandbox.overlays(), "overlays work as root");
        Path lower = Files.createDirectories(dir.resolve("tree"));
        Files.writeString(lower.resolve("keep.txt"), "release\n");
        Files.writeString(lower.resolve("gone.txt"), "release");
        Confinement.Overlay overlay = new Confinement.Overlay(lower, Files.createDirectories(dir.resolve("upper")),
                Files.createDirectories(dir.resolve("scratch")));
        Confinement c = new Confinement(Files.createDirectories(dir.resolve("workspace")),
                Files.createDirectories(dir.resolve("home")), overlay);
        Run first = run(sandbox, c, "echo changed >> keep.txt; rm gone.txt; chmod 600 keep.txt; echo new > new.txt; ls");
        assertThat(first.out()).as(first.err()).contains("keep.txt", "new.txt").doesNotContain("gone.txt");
        Run second = run(sandbox, c, "cat keep.txt new.txt; ls");
        assertThat(second.out()).as("the next process sees the writes").contains("release\nchanged\nnew\n")
                .doesNotContain("gone.txt");
        assertThat(lower.resolve("keep.txt")).hasContent("release");
        assertThat(Files.getPosixFilePermissions(lower.resolve("keep.txt"))).hasSizeGreaterThan(2);
        assertThat(lower.resolve("gone.txt")).hasContent("release");
        assertThat(lower.resolve("new.txt")).doesNotExist();
        assertThat(c.workspace()).as("mounted only inside the child").isEmptyDirectory();
    }

    @Test
    void nothing_inside_the_data_dir_or_the_workspaces_is_ever_bound_into_the_sandbox() throws Exception {
        assertThatThrownBy(() -> Sandbox.create(launcher, new Sandbox.Settings(null, null, List.of(state)),
                state.resolve("data"), state.resolve("workspaces")))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("--harness-read-only " + state)
                .hasMessageContaining("harnesses must never see");
        Path planted = Files.createDirectories(state.resolve("data/bin")).resolve("claude");
        Files.writeString(planted, "#!/bin/sh\necho hi\n");
        Files.setPosixFilePermissions(planted, java.nio.file.attribute.PosixFilePermissions.fromString("rwxr-xr-x"));
        Confinement c = confinement();
        assertThatThrownBy(() -> sandbox.start(new ProcessLauncher.Command(List.of(planted.toString()), c.workspace(),
                launcher.baseEnvironment()), c)).isInstanceOf(IOException.class)
                .hasMessageContaining("harnesses must never see");
    }

    @Test
    void a_turn_runs_in_control_groups_of_its_own_that_cap_its_processes_and_memory() throws Exception {
        assumeTrue("root".equals(ProcessHandle.current().info().user().orElse("")), "CI runs as root");
        Sandbox limited = Sandbox.create(launcher, new Sandbox.Settings(null, Sandbox.Network.NONE, List.of(),
                64L << 20, 40), state.resolve("limited"), state.resolve("limited-workspaces"));
        Confinement c = confinement();

        Run forks = run(limited, c, "i=0; while [ $i -lt 100 ]; do sleep 30 & i=$((i+1)); done; "
                + "echo started $(jobs -p | wc -l)");
        assertThat(forks.out()).doesNotContain("started 100");
        assertThat(forks.err()).as("the 41st process cannot start").contains("fork");

        Run hog = run(limited, c, "python3 -c 'x = bytearray(256 << 20); print(\"ALLOCATED\")'; echo exit $?");
        assertThat(hog.out()).as(hog.err()).doesNotContain("ALLOCATED").contains("exit 137");

        Run fits = run(limited, c, "python3 -c 'x = bytearray(16 << 20); print(\"ALLOCATED\")'");
        assertThat(fits.out()).as("the limit is per turn, not lower").contains("ALLOCATED");
        await().atMost(java.time.Duration.ofSeconds(5)).until(() -> leftoverGroups().isEmpty());
    }

    /** Turn groups left anywhere under the server's own groups. */
    private static List<Path> leftoverGroups() throws IOException {
        List<Path> left = new java.util.ArrayList<>();
        for (String line : Files.readAllLines(Path.of("/proc/self/cgroup"))) {
            String[] parts = line.split(":", 3);
            Path base = Path.of("/sys/fs/cgroup", parts[1].isEmpty() ? "" : parts[1], parts[2]);
            if (Files.isDirectory(base)) {
                try (var list = Files.list(base)) {
                    list.filter(p -> p.getFileName().toString().startsWith("karta-turn-")).forEach(left::add);
                }
            }
        }
        return left;
    }
}
