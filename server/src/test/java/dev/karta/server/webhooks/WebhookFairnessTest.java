package dev.karta.server.webhooks;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import dev.karta.server.Config;
import dev.karta.server.testkit.TestDatabase;
import dev.karta.server.testkit.TestServer;
import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * One org cannot hold up another's events: its endpoints that accept connections and never answer
 * take at most half of the senders. A retried delivery starts its back-off again.
 */
class WebhookFairnessTest {
    @TempDir
    Path dir;

    @Test
    void an_org_whose_endpoints_never_answer_does_not_hold_up_another_orgs_events() throws IOException {
        Config.Webhooks settings = Config.Webhooks.DEFAULTS.withAllowPrivate(true).withSchedule(
                List.of(Duration.ofMillis(200)), Duration.ofMinutes(5), Duration.ofSeconds(5), Duration.ofMillis(100));
        List<Socket> held = new CopyOnWriteArrayList<>();
        try (ServerSocket silent = new ServerSocket(0, 500, InetAddress.getLoopbackAddress());
             Receiver receiver = Receiver.start();
             TestServer server = TestServer.start(TestDatabase.sqlite().config(dir.resolve("data"), TestServer.randomKey())
                     .withWebhooks(settings))) {
            Thread accepting = new Thread(() -> {
                try {
                    while (true) {
                        held.add(silent.accept()); // accepted, never answered
                    }
                } catch (IOException e) {
                    // closed
                }
            });
            accepting.setDaemon(true);
            accepting.start();
            String rival = server.createOrg("rival");
            for (int i = 0; i < 6; i++) {
                String id = server.post("/webhook_endpoints", rival, "{\"url\":\"http://127.0.0.1:"
                        + silent.getLocalPort() + "/hooks\",\"events\":[\"*\"]}").json().get("webhook_endpoint")
                        .get("id").asText();
                for (int j = 0; j < 3; j++) {
                    assertThat(server.post("/webhook_endpoints/" + id + "/test", rival, "").status()).isEqualTo(202);
                }
            }
            await().atMost(Duration.ofSeconds(10)).until(() -> held.size() >= 2);
            WebhookFixture.endpoint(server, server.adminKey(), receiver, "[\"*\"]");

            server.createKey("victim", "read");

            await().atMost(Duration.ofSeconds(4)).until(() -> !receiver.received.isEmpty());
            assertThat(receiver.types()).containsExactly("key.created");
            for (Socket s : held) {
                s.close();
            }
        }
    }

    @Test
    void a_retried_delivery_starts_its_back_off_from_the_first_wait() {
        Config.Webhooks settings = Config.Webhooks.DEFAULTS.withAllowPrivate(true).withSchedule(
                List.of(Duration.ofMillis(100), Duration.ofMillis(100), Duration.ofMinutes(30)), Duration.ofHours(2),
                Duration.ofSeconds(3), Duration.ofMillis(100));
        try (Receiver receiver = Receiver.start();
             TestServer server = TestServer.start(TestDatabase.sqlite().config(dir.resolve("data"), TestServer.randomKey())
                     .withWebhooks(settings))) {
            receiver.answer.set(500);
            String id = WebhookFixture.endpoint(server, server.adminKey(), receiver, "[\"*\"]").get("id").asText();
            server.post("/webhook_endpoints/" + id + "/test", server.adminKey(), "");
            await().atMost(Duration.ofSeconds(20)).until(() -> receiver.received.size() >= 3);
            long deliveryId = WebhookFixture.deliveries(server, id).get(0).get("id").asLong();
            int before = receiver.received.size();

            assertThat(server.post("/webhook_endpoints/" + id + "/deliveries/" + deliveryId + "/retry",
                    server.adminKey(), "").status()).isEqualTo(202);

            // Two quick attempts again (100 ms apart) before the 30 min wait: without the restart,
            // one attempt would be followed by the longest wait.
            await().atMost(Duration.ofSeconds(20)).until(() -> receiver.received.size() >= before + 3);
            await().atMost(Duration.ofSeconds(5)).until(() -> WebhookFixture.deliveries(server, id).get(0)
                    .get("attempts").asInt() == 3);
            JsonNode after = WebhookFixture.deliveries(server, id).get(0);
            assertThat(Instant.parse(after.get("next_attempt_at").asText())).isAfter(Instant.now().plusSeconds(60));
            assertThat(after.get("attempt_log")).hasSize(6);
        }
    }
}
