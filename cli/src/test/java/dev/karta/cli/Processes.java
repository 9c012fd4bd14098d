package dev.karta.cli;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * Runs a real child process (an installed {@code karta}, {@code npm}, {@code install.sh}) with an
 * environment of the test's making: the test JVM's own, less anything Karta or Java reads, plus
 * what the test sets. Output goes to files, so a chatty child never blocks on a full pipe.
 */
final class Processes {
    private final Path scratch;
    private final Map<String, String> env = new HashMap<>(System.getenv());
    private Path stdin = Path.of("/dev/null");

    /** Child processes that keep their output in {@code scratch}. */
    Processes(Path scratch) {
        this.scratch = scratch;
        env.keySet().removeIf(name -> name.startsWith("KARTA_") || name.equals("JAVA_HOME")
                || name.startsWith("XDG_") || name.startsWith("npm_config_") || name.startsWith("GITHUB_"));
    }

    /** A copy of these settings, to change without changing these. */
    Processes copy() {
        Processes copy = new Processes(scratch);
        copy.env.clear();
        copy.env.putAll(env);
        copy.stdin = stdin;
        return copy;
    }

    Processes env(String name, String value) {
        if (value == null) {
            env.remove(name);
        } else {
            env.put(name, value);
        }
        return this;
    }

    Processes env(Map<String, String> more) {
        more.forEach(this::env);
        return this;
    }

    /** Children read {@code file} as their standard input (else /dev/null). */
    Processes stdin(Path file) {
        this.stdin = file;
        return this;
    }

    /** The value this environment gives {@code name}, or null. */
    String variable(String name) {
        return env.get(name);
    }

    /** The outcome of one child process. */
    record Result(int exitCode, String stdout, String stderr) {
        Result ok() {
            if (exitCode != 0) {
                throw new AssertionError("expected exit 0: " + this);
            }
            return this;
        }

        @Override
        public String toString() {
            return "exit " + exitCode + "\n--- stdout\n" + stdout + "--- stderr\n" + stderr;
        }
    }

    /** Runs {@code argv} in {@code dir} and waits for it, at most {@code timeout}. */
    Result run(Path dir, Duration timeout, List<String> argv) {
        try {
            Path out = Files.createTempFile(scratch, "out", ".txt");
            Path err = Files.createTempFile(scratch, "err", ".txt");
            ProcessBuilder builder = new ProcessBuilder(argv).directory(dir.toFile())
                    .redirectInput(ProcessBuilder.Redirect.from(stdin.toFile()))
                    .redirectOutput(out.toFile()).redirectError(err.toFile());
            builder.environment().clear();
            builder.environment().putAll(env);
            Process process = builder.start();
            if (!process.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
                process.descendants().forEach(ProcessHandle::destroyForcibly);
                process.destroyForcibly();
                throw new AssertionError(argv + " did not finish in " + timeout + "\n--- stdout\n"
                        + Files.readString(out) + "--- stderr\n" + Files.readString(err));
            }
            return new Result(process.exitValue(), Files.readString(out, StandardCharsets.UTF_8),
                    Files.readString(err, StandardCharsets.UTF_8));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AssertionError(e);
        }
    }

    Result run(Path dir, String... argv) {
        return run(dir, Duration.ofMinutes(3), List.of(argv));
    }

    /** Whether {@code command} is an executable on this machine's PATH. */
    static boolean onPath(String command) {
        String path = System.getenv("PATH");
        if (path == null) {
            return false;
        }
        for (String dir : path.split(":")) {
            if (!dir.isEmpty() && Files.isExecutable(Path.of(dir, command))) {
                return true;
            }
        }
        return false;
    }

    /**
     * A folder of small scripts running the commands a launcher uses ({@code sh}, {@code cksum}, …) and no
     * {@code java}: a PATH for a machine without Java.
     */
    static Path pathWithoutJava(Path dir, String... commands) {
        try {
            Files.createDirectories(dir);
            for (String command : commands) {
                for (String bin : List.of("/usr/bin/", "/bin/")) {
                    Path real = Path.of(bin + command);
                    if (Files.isExecutable(real) && !Files.exists(dir.resolve(command))) {
                        Path wrapper = dir.resolve(command);
                        Files.writeString(wrapper, "#!/bin/sh\nexec " + real + " \"$@\"\n");
                        wrapper.toFile().setExecutable(true);
                    }
                }
            }
            return dir;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
