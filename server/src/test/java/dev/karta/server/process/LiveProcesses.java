package dev.karta.server.process;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Finds processes by a marker in their argv, read from {@code /proc}: a child in a PID namespace
 * knows only its namespace's pids, so tests mark the processes they look for instead.
 */
public final class LiveProcesses {
    private LiveProcesses() {
    }

    /** Whether a live (not zombie) process has {@code marker} somewhere in its command line. */
    public static boolean anyWith(String marker) {
        try (DirectoryStream<Path> procs = Files.newDirectoryStream(Path.of("/proc"), "[0-9]*")) {
            for (Path proc : procs) {
                if (matches(proc, marker)) {
                    return true;
                }
            }
        } catch (IOException e) {
            throw new IllegalStateException("cannot list /proc", e);
        }
        return false;
    }

    private static boolean matches(Path proc, String marker) {
        try {
            String cmdline = new String(Files.readAllBytes(proc.resolve("cmdline")), StandardCharsets.UTF_8)
                    .replace('\0', ' ');
            if (!cmdline.contains(marker)) {
                return false;
            }
            String stat = Files.readString(proc.resolve("stat"));
            char state = stat.charAt(stat.lastIndexOf(')') + 2);
            return state != 'Z' && state != 'X';
        } catch (IOException e) {
            return false;
        }
    }
}
