package dev.karta.cli;

import java.io.FileDescriptor;
import java.io.FileOutputStream;
import java.io.InputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Clock;
import java.util.Map;
import java.util.Objects;

/**
 * Everything the CLI takes from its process: environment variables, home and working folders,
 * standard streams, the terminal (null when standard input or output is not one), the clock and
 * Ctrl-C. {@link #system()} is the only place that reads the real process; tests build their own.
 */
record Environment(
        Map<String, String> variables,
        Path home,
        Path workingDir,
        InputStream stdin,
        PrintStream stdout,
        PrintStream stderr,
        Terminal terminal,
        Clock clock,
        CtrlC ctrlC) {

    Environment {
        variables = Map.copyOf(variables);
        Objects.requireNonNull(home, "home");
        Objects.requireNonNull(workingDir, "workingDir");
        Objects.requireNonNull(stdin, "stdin");
        Objects.requireNonNull(stdout, "stdout");
        Objects.requireNonNull(stderr, "stderr");
        Objects.requireNonNull(clock, "clock");
        Objects.requireNonNull(ctrlC, "ctrlC");
    }

    /** The real process. Output is UTF-8 whatever the locale says, as gh and heroku do. */
    static Environment system() {
        PrintStream out = new PrintStream(new FileOutputStream(FileDescriptor.out), true, StandardCharsets.UTF_8);
        PrintStream err = new PrintStream(new FileOutputStream(FileDescriptor.err), true, StandardCharsets.UTF_8);
        // $HOME first, as shells and gh do; Java's user.home comes from the password database.
        String home = System.getenv("HOME");
        return new Environment(System.getenv(),
                Path.of(home == null || home.isBlank() ? System.getProperty("user.home") : home),
                Path.of("").toAbsolutePath(), System.in, out, err, Terminal.of(System.console()), Clock.systemUTC(),
                CtrlC.ofProcess(out, err));
    }

    /** A variable's value, or null when it is unset or blank. */
    String variable(String name) {
        String value = variables.get(name);
        return value == null || value.isBlank() ? null : value.trim();
    }

    boolean interactive() {
        return terminal != null;
    }
}
