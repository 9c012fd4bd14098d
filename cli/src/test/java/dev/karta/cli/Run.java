package dev.karta.cli;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.FutureTask;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * Runs the CLI in-process against a fake process edge: environment variables, a temporary home,
 * standard input, captured output, and optionally a terminal. Each {@link #run} is one
 * {@code karta …} invocation; {@link #start} runs one in the background, for a tail.
 */
final class Run {
    private final Path home;
    private final Map<String, String> variables = new HashMap<>();
    private Path workingDir;
    private String stdin = "";
    private Terminal terminal;

    Run(Path home) {
        this.home = home;
        this.workingDir = home;
    }

    Run env(String name, String value) {
        variables.put(name, value);
        return this;
    }

    Run env(Map<String, String> more) {
        variables.putAll(more);
        return this;
    }

    Run stdin(String text) {
        this.stdin = text;
        return this;
    }

    Run workingDir(Path dir) {
        this.workingDir = dir;
        return this;
    }

    Run terminal(Terminal terminal) {
        this.terminal = terminal;
        return this;
    }

    /** The outcome of one invocation. */
    record Result(int exitCode, String stdout, String stderr) {
        @Override
        public String toString() {
            return "exit " + exitCode + "\n--- stdout\n" + stdout + "--- stderr\n" + stderr;
        }
    }

    Result run(String... args) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        int code = new Main(environment(out, err, CtrlC.simulated())).run(args);
        return new Result(code, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
    }

    private Environment environment(ByteArrayOutputStream out, ByteArrayOutputStream err, CtrlC ctrlC) {
        return new Environment(variables, home, workingDir,
                new ByteArrayInputStream(stdin.getBytes(StandardCharsets.UTF_8)),
                new PrintStream(out, true, StandardCharsets.UTF_8), new PrintStream(err, true, StandardCharsets.UTF_8),
                terminal, Clock.systemUTC(), ctrlC);
    }

    /** Starts an invocation on another thread, for commands that run until stopped. */
    Running start(String... args) {
        return new Running(args);
    }

    /** An invocation in progress: its output so far, Ctrl-C, and its outcome. */
    final class Running {
        private final ByteArrayOutputStream out = new ByteArrayOutputStream();
        private final ByteArrayOutputStream err = new ByteArrayOutputStream();
        private final CtrlC ctrlC = CtrlC.simulated();
        private final FutureTask<Integer> exit;

        private Running(String[] args) {
            Environment env = environment(out, err, ctrlC);
            exit = new FutureTask<>(() -> new Main(env).run(args));
            Thread thread = new Thread(exit, "karta " + String.join(" ", args));
            thread.setDaemon(true);
            thread.start();
        }

        String stdout() {
            return out.toString(StandardCharsets.UTF_8);
        }

        String stderr() {
            return err.toString(StandardCharsets.UTF_8);
        }

        boolean isDone() {
            return exit.isDone();
        }

        void pressCtrlC() {
            ctrlC.press();
        }

        Result await(Duration timeout) {
            try {
                return new Result(exit.get(timeout.toMillis(), TimeUnit.MILLISECONDS), stdout(), stderr());
            } catch (InterruptedException | ExecutionException | TimeoutException e) {
                throw new AssertionError("karta did not finish: " + e + "\n--- stdout\n" + stdout()
                        + "--- stderr\n" + stderr(), e);
            }
        }
    }

    Path configFile() {
        String xdg = variables.get("XDG_CONFIG_HOME");
        return (xdg != null ? Path.of(xdg) : home.resolve(".config")).resolve("karta").resolve("config.toml");
    }
}
