package dev.karta.server.webhooks;

import static dev.karta.server.webhooks.WebhookFixture.deliveries;
import static dev.karta.server.webhooks.WebhookFixture.endpoint;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import dev.karta.server.testkit.EachDatabase;
import dev.karta.server.testkit.ServerProcess;
import dev.karta.server.testkit.TestDatabase;
import dev.karta.server.testkit.TestServer;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.Parameter;
import org.junit.jupiter.params.ParameterizedClass;
import org.junit.jupiter.params.provider.ArgumentsSource;

/**
 * The outbox survives a crash: a real server process commits a change while the receiver is
 * down, is killed with SIGKILL before any delivery succeeds, and the server started again on the
 * same database delivers the event.
 */
@ParameterizedClass(name = "on {0}")
@ArgumentsSource(EachDatabase.class)
class WebhookRestartTest {
    @Parameter
    TestDatabase database;
    @TempDir
    Path dataDir;

    @Test
    void a_server_killed_between_the_change_and_its_delivery_delivers_after_restart() throws Exception {
        String key = TestServer.randomKey();
        Receiver receiver = Receiver.start();
        receiver.down();
        ProcessBuilder starting = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-cp", System.getProperty("java.class.path"), "dev.karta.server.Main",
                "--port", "0", "--data-dir", dataDir.toString(), "--bootstrap-key", key, "--allow-private-webhooks")
                .redirectErrorStream(true);
        if (database.isPostgres()) {
            starting.command().addAll(List.of("--database", database.url(dataDir)));
        }
        Process child = starting.start();
        try {
            int port = ServerProcess.awaitListening(child);
            String endpointId;
            try (TestServer view = TestServer.attach(port, key)) {
                endpointId = endpoint(view, key, receiver, "[\"key.created\"]").get("id").asText();
                view.createKey("before-the-crash", "read");
                // One failed attempt (the receiver is down), its claim released: then the crash.
                await().atMost(Duration.ofSeconds(30)).untilAsserted(() -> {
                    JsonNode delivery = deliveries(view, endpointId).get(0);
                    assertThat(delivery.get("attempts").asInt()).isGreaterThanOrEqualTo(1);
                    assertThat(delivery.get("status").asText()).isEqualTo("pending");
                });
            }
            child.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
            receiver.up();
            assertThat(receiver.received).isEmpty();

            try (TestServer restarted = TestServer.start(database.config(dataDir, key)
                    .withWebhooks(WebhookFixture.fast()))) {
                await().atMost(Duration.ofSeconds(30)).until(() -> receiver.received.size() == 1);
                Receiver.Received got = receiver.received.get(0);
                assertThat(got.verified()).isTrue();
                assertThat(got.json().get("data").get("key").get("name").asText()).isEqualTo("before-the-crash");
                await().atMost(Duration.ofSeconds(10)).until(() -> deliveries(restarted, endpointId).get(0)
                        .get("status").asText().equals("delivered"));
            }
        } finally {
            child.destroyForcibly();
            receiver.close();
        }
    }
}
