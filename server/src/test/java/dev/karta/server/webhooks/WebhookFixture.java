package dev.karta.server.webhooks;

import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import dev.karta.server.Config;
import dev.karta.server.testkit.TarBuilder;
import dev.karta.server.testkit.TestServer;
import java.net.http.HttpRequest;
import java.time.Duration;
import java.util.List;

/** What the webhook tests share: a fast delivery schedule, endpoint creation and publishing. */
final class WebhookFixture {
    /** Waits of 200, 400 and 800 ms, a window of 30 s, 3 s per attempt, polled every 100 ms. */
    static Config.Webhooks fast() {
        return Config.Webhooks.DEFAULTS.withAllowPrivate(true).withSchedule(
                List.of(Duration.ofMillis(200), Duration.ofMillis(400), Duration.ofMillis(800)), Duration.ofSeconds(30),
                Duration.ofSeconds(3), Duration.ofMillis(100));
    }

    private WebhookFixture() {
    }

    /** Creates an endpoint for {@code receiver} with {@code key}; tells the receiver its secret. */
    static JsonNode endpoint(TestServer server, String key, Receiver receiver, String events) {
        TestServer.Response created = server.post("/webhook_endpoints", key,
                "{\"url\":\"" + receiver.url() + "\",\"events\":" + events + ",\"description\":\"test receiver\"}");
        if (created.status() != 201) {
            throw new AssertionError("creating an endpoint answered " + created.status() + ": " + created.body());
        }
        receiver.secret(created.json().get("secret").asText());
        return created.json().get("webhook_endpoint");
    }

    static JsonNode deliveries(TestServer server, String endpointId) {
        return server.get("/webhook_endpoints/" + endpointId + "/deliveries", server.adminKey()).json()
                .get("deliveries");
    }

    /** Uploads an app and waits for its deploy to end; returns the deploy. */
    static JsonNode publish(TestServer server, String project, byte[] archive) {
        TestServer.Response accepted = server.send(server.request("/agent_projects/" + project + "/releases",
                        server.adminKey())
                .header("Content-Type", "application/gzip")
                .POST(HttpRequest.BodyPublishers.ofByteArray(archive)));
        if (accepted.status() != 202) {
            throw new AssertionError("publish answered " + accepted.status() + ": " + accepted.body());
        }
        String id = accepted.json().get("id").asText();
        JsonNode[] last = new JsonNode[1];
        await().atMost(Duration.ofSeconds(30)).pollInterval(Duration.ofMillis(25)).until(() -> {
            last[0] = server.get("/agent_projects/" + project + "/deploys/" + id, server.adminKey()).json();
            String status = last[0].get("status").asText();
            return !status.equals("queued") && !status.equals("building");
        });
        return last[0];
    }

    static JsonNode publish(TestServer server, String project) {
        return publish(server, project, TarBuilder.app(project + System.nanoTime()));
    }
}
