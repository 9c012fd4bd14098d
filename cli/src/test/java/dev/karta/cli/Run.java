package dev.karta.cli;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Clock;
import java.util.HashMap;
import java.util.Map;

/**
 * Runs the CLI in-process against a fake process edge: environment variables, a temporary home,
 * standard input, captured output, and optionally a terminal. Each {@link #run} is one
 * {@code karta …} invocation.
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
        Environment env = new Environment(variables, home, workingDir,
                new ByteArrayInputStream(stdin.getBytes(StandardCharsets.UTF_8)),
                new PrintStream(out, true, StandardCharsets.UTF_8), new PrintStream(err, true, StandardCharsets.UTF_8),
                terminal, Clock.systemUTC());
        int code = new Main(env).run(args);
        return new Result(code, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
    }

    Path configFile() {
        String xdg = variables.get("XDG_CONFIG_HOME");
        return (xdg != null ? Path.of(xdg) : home.resolve(".config")).resolve("karta").resolve("config.toml");
    }
}
