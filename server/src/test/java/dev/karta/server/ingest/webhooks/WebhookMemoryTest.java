package dev.karta.server.ingest.webhooks;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.karta.server.Config;
import dev.karta.server.repos.FakeGitHub;
import dev.karta.server.testkit.TestServer;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.http.HttpRequest;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Webhook bodies are read before anything can check them, so together they may hold at most
 * four times max_webhook_bytes of memory: a delivery that finds that budget taken is a 503, and
 * the budget comes back when the senders finish or hang up.
 */
class WebhookMemoryTest {
    private static final int MAX = 1 << 20;

    @TempDir
    Path dataDir;

    private static byte[] orgPing() {
        try (InputStream in = WebhookMemoryTest.class.getResourceAsStream("/github/ping.organization.json")) {
            return in.readAllBytes();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static int ping(TestServer server) {
        return server.send(server.request("/webhooks/github", null)
                .header("Content-Type", "application/json")
                .header("X-GitHub-Event", "ping").header("X-GitHub-Delivery", Hooks.newDelivery())
                .POST(HttpRequest.BodyPublishers.ofByteArray(orgPing()))).status();
    }

    /** A delivery of {@value #MAX} bytes whose last byte never comes: it holds its share meanwhile. */
    private static Socket stalledDelivery(int port) throws IOException {
        Socket socket = new Socket();
        socket.connect(new InetSocketAddress("127.0.0.1", port));
        OutputStream out = socket.getOutputStream();
        out.write(("POST /webhooks/github HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                + "X-GitHub-Event: push\r\nContent-Length: " + MAX + "\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
        out.write(new byte[MAX - 1]);
        out.flush();
        return socket;
    }

    @Test
    void deliveries_past_the_memory_budget_are_503_until_the_held_ones_end() throws Exception {
        try (FakeGitHub github = FakeGitHub.start();
             TestServer server = Hooks.start(dataDir, new Config.Repos(github.apiUrl(), null, List.of("ssh"), MAX))) {
            assertThat(ping(server)).isEqualTo(200);
            List<Socket> stalled = new ArrayList<>();
            try {
                for (int i = 0; i < 5; i++) {
                    stalled.add(stalledDelivery(server.port()));
                }

                await().atMost(Duration.ofSeconds(30)).until(() -> ping(server) == 503);
            } finally {
                for (Socket socket : stalled) {
                    socket.close();
                }
            }

            await().atMost(Duration.ofSeconds(30)).until(() -> ping(server) == 200);
        }
    }
}
