package dev.karta.cli;

import dev.karta.server.testkit.GitRunner;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Map;

/**
 * The server test kit's {@link GitRunner} for CLI tests, plus a launcher for this CLI. {@link #env()}
 * is the same environment for the CLI run in process, so the git that {@code karta init} starts
 * sees what these commands see.
 */
final class TestGit {
    private final GitRunner git;

    TestGit(Path home) {
        this.git = new GitRunner(home);
    }

    Path home() {
        return git.home();
    }

    /** The variables git runs with; pass them to {@link Run#env(Map)} too. */
    Map<String, String> env() {
        return git.env();
    }

    TestGit with(String name, String value) {
        git.with(name, value);
        return this;
    }

    /** Runs {@code git ARGS} in {@code dir} with this environment only. */
    GitRunner.Run run(Path dir, String... args) {
        return git.run(dir, args);
    }

    /** A fresh repository in {@code dir} holding a small Claude Code app, committed on main. */
    Path newApp(Path dir) {
        return git.newApp(dir);
    }

    /** Stages everything and commits; returns the new commit's full SHA. */
    String commitAll(Path dir, String message) {
        return git.commitAll(dir, message);
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
