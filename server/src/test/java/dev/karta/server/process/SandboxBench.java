package dev.karta.server.process;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * What the sandbox adds to starting a harness, run by {@code bench/sandbox.sh} (not a test):
 * the same tiny fake {@code claude} (a shell script printing its three JSON lines) run {@code n}
 * times each way, from start to exit with its output read: directly by {@link ProcessBuilder},
 * through the launcher (PID namespace), and through the sandbox in each mode.
 */
public final class SandboxBench {
    private static final String FAKE = """
            #!/bin/sh
            echo '{"type":"system","subtype":"init","session_id":"bench"}'
            echo '{"type":"assistant","message":{"content":[{"type":"text","text":"ok"}]}}'
            echo '{"type":"result","subtype":"success","is_error":false,"result":"ok","session_id":"bench"}'
            """;

    private SandboxBench() {
    }

    private interface Run {
        Process start() throws Exception;
    }

    public static void main(String[] args) throws Exception {
        int n = args.length > 0 ? Integer.parseInt(args[0]) : 100;
        Path dir = Files.createTempDirectory("karta-sandbox-bench-");
        Path bin = Files.createDirectories(dir.resolve("bin"));
        Path claude = Files.writeString(bin.resolve("claude"), FAKE);
        Files.setPosixFilePermissions(claude, PosixFilePermissions.fromString("rwxr-xr-x"));
        Path tree = Files.createDirectories(dir.resolve("tree"));
        Files.writeString(tree.resolve("CLAUDE.md"), "# bench\n");
        Path workspace = Files.createDirectories(dir.resolve("workspace"));
        Path home = Files.createDirectories(dir.resolve("home"));
        Map<String, String> env = Map.of("PATH", "/usr/local/bin:/usr/bin:/bin", "HOME", "/root", "LANG", "C.UTF-8");
        try (ProcessLauncher launcher = ProcessLauncher.detect(env)) {
            ProcessLauncher.Command command = new ProcessLauncher.Command(List.of(claude.toString(), "-p", "hi"),
                    workspace, launcher.baseEnvironment());
            Confinement plain = Confinement.directory(workspace, home);
            measure("ProcessBuilder, no containment", n, () -> new ProcessBuilder(claude.toString(), "-p", "hi")
                    .directory(workspace.toFile()).start());
            measure("launcher (PID namespace)", n, () -> launcher.start(command, false).process());
            Sandbox none = Sandbox.create(launcher, new Sandbox.Settings(Sandbox.Mode.NONE, null, List.of()),
                    dir.resolve("s-none"), dir.resolve("ws-none"));
            measure("--sandbox none", n, () -> none.start(command, plain).process());
            for (Sandbox.Network network : Sandbox.Network.values()) {
                Sandbox bwrap = Sandbox.create(launcher, new Sandbox.Settings(Sandbox.Mode.BWRAP, network, List.of()),
                        dir.resolve("s-" + network), dir.resolve("ws-" + network));
                measure("--sandbox bwrap, network " + bwrap.describeNetwork(), n, () -> bwrap.start(command, plain)
                        .process());
                if (bwrap.overlays()) {
                    Confinement overlay = new Confinement(workspace, home, new Confinement.Overlay(tree,
                            Files.createDirectories(dir.resolve("upper-" + network)),
                            Files.createDirectories(dir.resolve("scratch-" + network))));
                    measure("--sandbox bwrap, network " + bwrap.describeNetwork() + ", overlay workspace", n,
                            () -> bwrap.start(command, overlay).process());
                }
            }
        }
    }

    private static void measure(String what, int n, Run run) throws Exception {
        for (int i = 0; i < Math.min(10, n); i++) {
            once(run); // warm-up
        }
        long[] ms = new long[n];
        for (int i = 0; i < n; i++) {
            ms[i] = once(run);
        }
        Arrays.sort(ms);
        System.out.printf("%-55s p50 %6.1f ms   p99 %6.1f ms%n", what, ms[n / 2] / 1e6, ms[Math.min(n - 1, n * 99 / 100)] / 1e6);
    }

    private static long once(Run run) throws Exception {
        long start = System.nanoTime();
        Process process = run.start();
        process.getOutputStream().close();
        String out = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        if (!process.waitFor(30, TimeUnit.SECONDS) || process.exitValue() != 0 || !out.contains("\"result\"")) {
            throw new IllegalStateException("the fake harness failed: exit " + process.exitValue() + ", "
                    + new String(process.getErrorStream().readAllBytes(), StandardCharsets.UTF_8));
        }
        return System.nanoTime() - start;
    }
}
