package dev.karta.cli;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;

/**
 * The {@code git} command, run as an argv list (never a shell string) in one folder, with the
 * CLI's {@link Environment} as its whole environment so that tests can isolate it. Standard input
 * is empty; both outputs are captured.
 */
final class Git {
    /** What one git command did. */
    record Result(int exitCode, String stdout, String stderr) {
        boolean ok() {
            return exitCode == 0;
        }

        /** Standard output without its final newline. */
        String line() {
            return stdout.strip();
        }
    }

    private final Environment env;
    private final Path dir;

    Git(Environment env, Path dir) {
        this.env = env;
        this.dir = dir;
    }

    /** Runs {@code git ARGS}; a git that cannot be started is a {@link CliError}. */
    Result run(String... args) {
        List<String> argv = new ArrayList<>();
        argv.add("git");
        argv.addAll(List.of(args));
        ProcessBuilder builder = new ProcessBuilder(argv).directory(dir.toFile())
                .redirectInput(ProcessBuilder.Redirect.from(Path.of("/dev/null").toFile()));
        Map<String, String> childEnv = builder.environment();
        childEnv.clear();
        childEnv.putAll(env.variables());
        childEnv.putIfAbsent("HOME", env.home().toString());
        Process process;
        try {
            process = builder.start();
        } catch (IOException e) {
            throw CliError.failed("cannot run git (is it installed and on PATH?): " + e.getMessage());
        }
        CompletableFuture<String> stderr = CompletableFuture.supplyAsync(() -> text(process.getErrorStream()));
        String stdout = text(process.getInputStream());
        try {
            return new Result(process.waitFor(), stdout, stderr.join());
        } catch (InterruptedException e) {
            process.destroy();
            Thread.currentThread().interrupt();
            throw CliError.failed("interrupted");
        }
    }

    /** Runs {@code git ARGS} and fails with git's own message when it does. */
    Result require(String... args) {
        Result result = run(args);
        if (!result.ok()) {
            String why = result.stderr().strip();
            throw CliError.failed("git " + String.join(" ", args) + " failed"
                    + (why.isEmpty() ? " (exit " + result.exitCode() + ")" : ": " + why));
        }
        return result;
    }

    private static String text(InputStream in) {
        try (in) {
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
