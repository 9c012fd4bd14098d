package dev.karta.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;

/**
 * The real {@code git} command for tests, isolated from the machine: its own HOME and global
 * config file, no system config, never a prompt. {@link #env()} is the same environment for the
 * CLI run in process, so the git that {@code karta init} starts sees what these commands see.
 */
final class TestGit {
    private final Path home;
    private final Map<String, String> env = new TreeMap<>();

    TestGit(Path home) {
        this.home = home;
        write(home.resolve(".gitconfig"), """
                [user]
                    name = Karta Test
                    email = test@karta.invalid
                [init]
                    defaultBranch = main
                [advice]
                    detachedHead = false
                """);
        env.put("HOME", home.toString());
        env.put("PATH", System.getenv("PATH"));
        env.put("GIT_CONFIG_GLOBAL", home.resolve(".gitconfig").toString());
        env.put("GIT_CONFIG_NOSYSTEM", "1");
        env.put("GIT_TERMINAL_PROMPT", "0");
        env.put("LC_ALL", "C");
    }

    Path home() {
        return home;
    }

    /** The variables git runs with; pass them to {@link Run#env(Map)} too. */
    Map<String, String> env() {
        return Map.copyOf(env);
    }

    TestGit with(String name, String value) {
        env.put(name, value);
        return this;
    }

    /** What one git command did. */
    record Result(int exit, String out, String err) {
        Result ok() {
            assertThat(exit).as("git exited %d\nstdout:\n%s\nstderr:\n%s", exit, out, err).isZero();
            return this;
        }

        Result failed() {
            assertThat(exit).as("git should have failed\nstdout:\n%s\nstderr:\n%s", out, err).isNotZero();
            return this;
        }

        String line() {
            return out.strip();
        }
    }

    /** Runs {@code git ARGS} in {@code dir} with this environment only. */
    Result run(Path dir, String... args) {
        List<String> argv = new ArrayList<>();
        argv.add("git");
        argv.addAll(List.of(args));
        ProcessBuilder builder = new ProcessBuilder(argv).directory(dir.toFile());
        builder.environment().clear();
        builder.environment().putAll(env);
        try {
            Path out = Files.createTempFile(home, "git-out", ".txt");
            Path err = Files.createTempFile(home, "git-err", ".txt");
            Process process = builder.redirectInput(ProcessBuilder.Redirect.from(Path.of("/dev/null").toFile()))
                    .redirectOutput(out.toFile()).redirectError(err.toFile()).start();
            if (!process.waitFor(120, TimeUnit.SECONDS)) {
                process.destroyForcibly();
                throw new AssertionError(String.join(" ", argv) + " did not finish in 120 s");
            }
            Result result = new Result(process.exitValue(), Files.readString(out, StandardCharsets.UTF_8),
                    Files.readString(err, StandardCharsets.UTF_8));
            Files.delete(out);
            Files.delete(err);
            return result;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }

    /** A fresh repository in {@code dir} holding a small Claude Code app, committed on main. */
    Path newApp(Path dir) {
        write(dir.resolve("CLAUDE.md"), "# Test app\nAnswer politely.\n");
        write(dir.resolve(".claude/settings.json"), "{}\n");
        write(dir.resolve("karta.toml"), "entry_point = \"CLAUDE.md\"\n");
        run(dir, "init", "-q").ok();
        commitAll(dir, "first");
        return dir;
    }

    /** Stages everything and commits; returns the new commit's full SHA. */
    String commitAll(Path dir, String message) {
        run(dir, "add", "-A").ok();
        run(dir, "commit", "-q", "--allow-empty", "-m", message).ok();
        return run(dir, "rev-parse", "HEAD").ok().line();
    }

    /**
     * An executable that runs this CLI ({@link Main}) in a new JVM on the test classpath, standing
     * in for the {@code karta} launcher when git calls {@code karta git-credential}.
     */
    Path launcher(Path dir) {
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        Path script = dir.resolve("karta");
        write(script, "#!/bin/sh\nexec " + singleQuoted(java) + " -XX:TieredStopAtLevel=1 -XX:+UseSerialGC -cp "
                + singleQuoted(System.getProperty("java.class.path")) + " dev.karta.cli.Main \"$@\"\n");
        try {
            Files.setPosixFilePermissions(script, PosixFilePermissions.fromString("rwx------"));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return script;
    }

    static void write(Path file, String text) {
        try {
            Files.createDirectories(file.getParent());
            Files.writeString(file, text);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static String singleQuoted(String word) {
        return "'" + word.replace("'", "'\\''") + "'";
    }
}
