package dev.karta.cli;

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
    private Path data;
    private TestServer server;
    private Path home;
    private Run karta;

    @Override
    public void beforeAll(ExtensionContext context) throws IOException {
        data = Files.createTempDirectory("karta-cli-data");
        server = TestServer.start(data);
    }

    @Override
    public void afterAll(ExtensionContext context) {
        server.close();
        delete(data);
    }

    @Override
    public void beforeEach(ExtensionContext context) throws IOException {
        home = Files.createTempDirectory("karta-cli-home");
        karta = new Run(home).env("KARTA_SERVER", server.url()).env("KARTA_API_KEY", TestServer.ADMIN_KEY);
    }

    @Override
    public void afterEach(ExtensionContext context) {
        delete(home);
    }

    TestServer server() {
        return server;
    }

    /** This test's home folder. */
    Path home() {
        return home;
    }

    /** The CLI of this test, logged in as the server's admin. */
    Run karta() {
        return karta;
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
