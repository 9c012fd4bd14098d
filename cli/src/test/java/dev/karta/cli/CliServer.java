package dev.karta.cli;

import dev.karta.server.Config;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.stream.Stream;
import org.junit.jupiter.api.extension.AfterAllCallback;
import org.junit.jupiter.api.extension.AfterEachCallback;
import org.junit.jupiter.api.extension.BeforeAllCallback;
import org.junit.jupiter.api.extension.BeforeEachCallback;
import org.junit.jupiter.api.extension.ExtensionContext;

/**
 * The setup most CLI tests share, as one extension registered on a static field: a real server
 * for the test class in its own temporary data folder, and for each test a fresh temporary home
 * and an in-process CLI logged in to that server with its admin key.
 */
final class CliServer implements BeforeAllCallback, AfterAllCallback, BeforeEachCallback, AfterEachCallback {
    /** Session settings made once per test class, in a folder of their own (to write a fake harness into). */
    @FunctionalInterface
    interface SessionsIn {
        Config.SessionSettings in(Path folder) throws IOException;
    }

    private final SessionsIn sessions;
    private Path data;
    private TestServer server;
    private Path home;
    private Run karta;

    /** A server with the default settings. */
    CliServer() {
        this(null);
    }

    private CliServer(SessionsIn sessions) {
        this.sessions = sessions;
    }

    /** A server whose sessions run with {@code sessions} (harness executables, limits). */
    static CliServer withSessions(SessionsIn sessions) {
        return new CliServer(sessions);
    }

    @Override
    public void beforeAll(ExtensionContext context) throws IOException {
        data = Files.createTempDirectory("karta-cli-data");
        server = sessions == null
                ? TestServer.start(dataDir())
                : TestServer.start(dataDir(), sessions.in(Files.createDirectory(data.resolve("tools"))));
    }

    @Override
    public void afterAll(ExtensionContext context) {
        server.close();
        delete(data);
    }

    @Override
    public void beforeEach(ExtensionContext context) throws IOException {
        home = Files.createTempDirectory("karta-cli-home");
        karta = as(TestServer.ADMIN_KEY);
    }

    @Override
    public void afterEach(ExtensionContext context) {
        delete(home);
    }

    TestServer server() {
        return server;
    }

    /** The server's data folder. */
    Path dataDir() {
        return data.resolve("data");
    }

    /** Stops the server, as a crash or an upgrade would; {@link #startAgain()} brings it back. */
    void stop() {
        server.close();
    }

    /** Starts the stopped server again on the same data and port, as after a restart. */
    void startAgain() {
        server = TestServer.start(dataDir(), server.port());
    }

    /** This test's home folder. */
    Path home() {
        return home;
    }

    /** The CLI of this test, logged in as the server's admin. */
    Run karta() {
        return karta;
    }

    /** The CLI of this test, in its home, logged in to the server with {@code key}. */
    Run as(String key) {
        return new Run(home).env("KARTA_SERVER", server.url()).env("KARTA_API_KEY", key);
    }

    private static void delete(Path dir) {
        try (Stream<Path> paths = Files.walk(dir)) {
            for (Path path : paths.sorted(Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(path);
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
