package dev.karta.server.testkit;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** A {@code karta server} started as a separate JVM, for tests that kill it as a crash would. */
public final class ServerProcess {
    private static final Pattern LISTENING = Pattern.compile("Karta listening on http://127\\.0\\.0\\.1:(\\d+)");

    private ServerProcess() {
    }

    /**
     * Reads the child's output (stdout with stderr merged) until it says where it listens, then
     * keeps draining it in the background so the pipe never fills; returns the port.
     */
    public static int awaitListening(Process child) throws IOException {
        BufferedReader out = new BufferedReader(new InputStreamReader(child.getInputStream(), StandardCharsets.UTF_8));
        long deadline = System.currentTimeMillis() + 60_000;
        String line;
        while (System.currentTimeMillis() < deadline && (line = out.readLine()) != null) {
            Matcher m = LISTENING.matcher(line);
            if (m.find()) {
                Thread drain = new Thread(() -> {
                    try {
                        while (out.readLine() != null) {
                            // keep the child's pipe from filling up
                        }
                    } catch (IOException e) {
                        // the child was killed
                    }
                });
                drain.setDaemon(true);
                drain.start();
                return Integer.parseInt(m.group(1));
            }
        }
        throw new IllegalStateException("the server process did not start");
    }
}
