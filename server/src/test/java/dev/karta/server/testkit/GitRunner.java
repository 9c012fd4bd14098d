package dev.karta.server.testkit;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;

/**
 * The real {@code git} command for tests, isolated from the machine: a clean environment with its
 * own HOME and global config file (a test user, branch main), no system config, never a prompt,
 * stdin from /dev/null. {@link #env()} is that environment, for anything else that runs git.
 */
public final class GitRunner {
    private static final long TIMEOUT_SECONDS = 120;

    private final Path home;
    private final Map<String, String> env = new TreeMap<>();

    public GitRunner(Path home) {
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

    public Path home() {
        return home;
    }

    /** The variables git runs with. */
    public Map<String, String> env() {
        return Map.copyOf(env);
    }

    /** Sets one more variable for every later command. */
    public GitRunner with(String name, String value) {
        env.put(name, value);
        return this;
    }

    /** Runs {@code git ARGS} in {@code dir} and waits for it. */
    public Run run(Path dir, String... args) {
        return start(dir, args).await();
    }

    /** Starts {@code git ARGS} in {@code dir} without waiting for it. */
    public Running start(Path dir, String... args) {
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
            return new Running(process, out, err, String.join(" ", argv));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** A fresh repository in {@code dir} holding a small Claude Code app, committed on main. */
    public Path newApp(Path dir) {
        write(dir.resolve("CLAUDE.md"), "# Test app\nAnswer politely.\n");
        write(dir.resolve(".claude/settings.json"), "{}\n");
        write(dir.resolve("karta.toml"), "entry_point = \"CLAUDE.md\"\n");
        run(dir, "init", "-q").ok();
        commitAll(dir, "first");
        return dir;
    }

    /** Stages everything and commits; returns the new commit's full SHA. */
    public String commitAll(Path dir, String message) {
        run(dir, "add", "-A").ok();
        run(dir, "commit", "-q", "--allow-empty", "-m", message).ok();
        return head(dir);
    }

    /** The full SHA of HEAD in {@code dir}. */
    public String head(Path dir) {
        return run(dir, "rev-parse", "HEAD").ok().line();
    }

    /** What one git command did. */
    public record Run(int exit, String out, String err) {
        public Run ok() {
            assertThat(exit).as("git exited %d\nstdout:\n%s\nstderr:\n%s", exit, out, err).isZero();
            return this;
        }

        public Run failed() {
            assertThat(exit).as("git should have failed\nstdout:\n%s\nstderr:\n%s", out, err).isNotZero();
            return this;
        }

        /** Standard output without surrounding white space. */
        public String line() {
            return out.strip();
        }
    }

    /** A git command still running; its stderr can be read while it runs. */
    public record Running(Process process, Path out, Path err, String command) {
        public String errSoFar() {
            try {
                return Files.readString(err, StandardCharsets.UTF_8);
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }

        public Run await() {
            try {
                if (!process.waitFor(TIMEOUT_SECONDS, TimeUnit.SECONDS)) {
                    process.destroyForcibly();
                    throw new AssertionError(command + " did not finish in " + TIMEOUT_SECONDS + " s");
                }
                Run run = new Run(process.exitValue(), Files.readString(out, StandardCharsets.UTF_8),
                        Files.readString(err, StandardCharsets.UTF_8));
                Files.delete(out);
                Files.delete(err);
                return run;
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IllegalStateException(e);
            }
        }
    }

    private static void write(Path file, String text) {
        try {
            Files.createDirectories(file.getParent());
            Files.writeString(file, text);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
