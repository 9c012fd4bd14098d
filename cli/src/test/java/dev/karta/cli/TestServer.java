package dev.karta.cli;

import dev.karta.server.Config;
import java.net.URI;
import java.nio.file.Path;
import java.util.List;

/**
 * The server test kit's {@link dev.karta.server.testkit.TestServer} as CLI tests start it: a known
 * bootstrap admin key, one build worker, file URLs under the temporary folder allowed.
 */
final class TestServer implements AutoCloseable {
    static final String ADMIN_KEY = "kt_live_TestAdminKey0123456789abcdefABCD";

    private final dev.karta.server.testkit.TestServer server;

    private TestServer(dev.karta.server.testkit.TestServer server) {
        this.server = server;
    }

    static TestServer start(Path dataDir) {
        return start(dataDir, 0);
    }

    /** A server on {@code port} (0: any free one), as after a restart on the same data and port. */
    static TestServer start(Path dataDir, int port) {
        return new TestServer(dev.karta.server.testkit.TestServer.start(config(dataDir, port)));
    }

    /** A server whose sessions run the harness executables {@code sessions} names (fakes, in tests). */
    static TestServer start(Path dataDir, Config.SessionSettings sessions) {
        return new TestServer(dev.karta.server.testkit.TestServer.start(config(dataDir, 0).withSessions(sessions)));
    }

    /** A server that runs {@code builder} as its image builder (for Dockerfile apps). */
    static TestServer startWithBuilder(Path dataDir, List<String> builder) {
        return new TestServer(dev.karta.server.testkit.TestServer.start(config(dataDir, 0).toBuilder()
                .builderCommand(builder).build()));
    }

    /**
     * Tests bind repositories they create in temporary folders: the operator allows file URLs
     * there, as {@code --allow-repo-url file:///srv/git/} would.
     */
    private static Config config(Path dataDir, int port) {
        String temporary = Path.of(System.getProperty("java.io.tmpdir")).toAbsolutePath().toUri().toString();
        return Config.builder(dataDir).port(port).bootstrapKey(ADMIN_KEY).buildWorkers(1)
                .repos(Config.Repos.DEFAULTS.withAllowed(java.util.Set.of(), List.of(temporary))).build();
    }

    String url() {
        return server.server().publicUrl();
    }

    int port() {
        return URI.create(url()).getPort();
    }

    @Override
    public void close() {
        server.close();
    }
}
