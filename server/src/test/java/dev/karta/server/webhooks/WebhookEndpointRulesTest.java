package dev.karta.server.webhooks;

import static dev.karta.server.webhooks.WebhookFixture.deliveries;
import static dev.karta.server.webhooks.WebhookFixture.endpoint;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import dev.karta.server.Config;
import dev.karta.server.store.Database;
import dev.karta.server.testkit.TestServer;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * What a tenant may ask of {@code /webhook_endpoints}: valid fields within named limits, admin
 * scope, its own org's endpoints only, and no URL that would turn the server against its own
 * network unless the operator said {@code --allow-private-webhooks}.
 */
class WebhookEndpointRulesTest {
    @TempDir
    Path dir;

    private TestServer server;
    private Receiver receiver;

    @BeforeEach
    void start() {
        receiver = Receiver.start();
    }

    @AfterEach
    void stop() {
        if (server != null) {
            server.close();
        }
        receiver.close();
    }

    private TestServer start(Config.Webhooks webhooks) {
        server = TestServer.start(TestServer.config(dir.resolve("data"), TestServer.randomKey()).withWebhooks(webhooks));
        return server;
    }

    private TestServer.Response create(String key, String url, String events, String description) {
        return server.post("/webhook_endpoints", key, "{\"url\":\"" + url + "\",\"events\":" + events
                + (description == null ? "" : ",\"description\":\"" + description + "\"") + "}");
    }

    @Test
    void urls_must_be_https_to_a_public_address_without_the_operator_flag() {
        start(WebhookFixture.fast().withAllowPrivate(false));
        for (String url : List.of("http://example.com/hook", "ftp://example.com/", "https://127.0.0.1/hook",
                "https://localhost:8443/hook", "https://[::1]/hook", "https://10.1.2.3/hook", "https://192.168.0.10/",
                "https://169.254.169.254/latest/meta-data", "https://100.64.0.1/",
                "https://2130706433/", "https://[::ffff:127.0.0.1]/", "https://0.0.0.0/", "https://[fd00::1]/")) {
            TestServer.Response refused = create(server.adminKey(), url, "[\"*\"]", null);
            assertThat(refused.status()).as(url + ": " + refused.body()).isEqualTo(422);
            assertThat(refused.json().get("error").asText()).as(url).isEqualTo("webhook_url_refused");
        }
        assertThat(create(server.adminKey(), "https://user:pw@hooks.example.com/", "[\"*\"]", null).status())
                .isEqualTo(422);
        assertThat(create(server.adminKey(), "https://hooks.example.com/x#frag", "[\"*\"]", null).status())
                .isEqualTo(400);
        assertThat(create(server.adminKey(), "not a url", "[\"*\"]", null).status()).isEqualTo(400);
        // Not a host name to java.net.URI (a label starting with a digit): no host, so no delivery either.
        assertThat(create(server.adminKey(), "https://0x7f.1/", "[\"*\"]", null).status()).isEqualTo(400);
        assertThat(create(server.adminKey(), "https://" + "a".repeat(WebhookEndpoints.MAX_URL_LENGTH) + ".com/",
                "[\"*\"]", null).status()).isEqualTo(400);
        // A public address is fine (nothing is sent until an event happens).
        assertThat(create(server.adminKey(), "https://203.0.113.10/hook", "[\"*\"]", null).status()).isEqualTo(201);
    }

    @Test
    void delivery_checks_the_address_again_and_never_connects_to_a_private_one() {
        start(WebhookFixture.fast().withAllowPrivate(false));
        TestServer.Response created = create(server.adminKey(), "https://203.0.113.10/hook", "[\"key.created\"]", null);
        String id = created.json().get("webhook_endpoint").get("id").asText();
        // As if its name now resolved to loopback (DNS rebinding): the stored URL points at the receiver.
        try (Database db = server.openDatabase()) {
            db.execute("UPDATE webhook_endpoints SET url = ? WHERE id = ?",
                    "https://127.0.0.1:" + receiver.port() + "/hooks", id);
        }

        server.createKey("ci", "read");

        await().atMost(Duration.ofSeconds(20)).untilAsserted(() -> {
            JsonNode delivery = deliveries(server, id).get(0);
            assertThat(delivery.get("attempts").asInt()).isGreaterThanOrEqualTo(1);
            assertThat(delivery.get("last_error").asText()).contains("refused").contains("loopback");
        });
        assertThat(receiver.received).isEmpty();
    }

    @Test
    void events_names_descriptions_and_the_endpoint_cap_are_checked() {
        start(WebhookFixture.fast().withMaxEndpointsPerOrg(2));
        assertThat(create(server.adminKey(), receiver.url(), "[\"deploy.exploded\"]", null).status()).isEqualTo(400);
        assertThat(create(server.adminKey(), receiver.url(), "[]", null).status()).isEqualTo(400);
        assertThat(create(server.adminKey(), receiver.url(), "[\"*\",\"key.created\"]", null).status()).isEqualTo(400);
        assertThat(create(server.adminKey(), receiver.url(), "[\"*\"]",
                "d".repeat(WebhookEndpoints.MAX_DESCRIPTION_LENGTH + 1)).status()).isEqualTo(400);
        assertThat(create(server.adminKey(), receiver.url(), "[\"*\"]", "line\\nbreak").status()).isEqualTo(400);
        assertThat(create(server.adminKey(), "", "[\"*\"]", null).status()).isEqualTo(400);

        TestServer.Response first = create(server.adminKey(), receiver.url(),
                "[\"key.created\",\"key.created\",\"deploy.failed\"]", "ok");
        assertThat(first.status()).isEqualTo(201);
        assertThat(first.json().get("webhook_endpoint").get("events").toString())
                .isEqualTo("[\"key.created\",\"deploy.failed\"]");
        assertThat(create(server.adminKey(), receiver.url(), "[\"*\"]", null).status()).isEqualTo(201);
        TestServer.Response third = create(server.adminKey(), receiver.url(), "[\"*\"]", null);
        assertThat(third.status()).isEqualTo(429);
        assertThat(third.json().get("message").asText()).contains("--max-webhook-endpoints");

        String id = first.json().get("webhook_endpoint").get("id").asText();
        assertThat(server.patch("/webhook_endpoints/" + id, server.adminKey(), "{\"events\":[\"nope\"]}").status())
                .isEqualTo(400);
        assertThat(server.patch("/webhook_endpoints/" + id, server.adminKey(), "{\"url\":\"ftp://x/\"}").status())
                .isEqualTo(422);
        TestServer.Response patched = server.patch("/webhook_endpoints/" + id, server.adminKey(),
                "{\"events\":[\"*\"],\"description\":\"all\",\"enabled\":false}");
        assertThat(patched.json().get("events").toString()).isEqualTo("[\"*\"]");
        assertThat(patched.json().get("description").asText()).isEqualTo("all");
        assertThat(patched.json().get("enabled").asBoolean()).isFalse();
        assertThat(server.get("/webhook_endpoints", server.adminKey()).json().get("webhook_endpoints")).hasSize(2);
        assertThat(server.delete("/webhook_endpoints/" + id, server.adminKey()).status()).isEqualTo(204);
        assertThat(server.get("/webhook_endpoints/" + id, server.adminKey()).status()).isEqualTo(404);
        assertThat(create(server.adminKey(), receiver.url(), "[\"*\"]", null).status()).isEqualTo(201);
    }

    @Test
    void only_admin_keys_manage_endpoints() {
        start(WebhookFixture.fast());
        String id = endpoint(server, server.adminKey(), receiver, "[\"*\"]").get("id").asText();
        for (String scope : List.of("read", "write")) {
            String key = server.createKey(scope + "-key", scope);
            assertThat(server.get("/webhook_endpoints", key).status()).as(scope).isEqualTo(403);
            assertThat(server.get("/webhook_endpoints/" + id, key).status()).as(scope).isEqualTo(403);
            assertThat(create(key, receiver.url(), "[\"*\"]", null).status()).as(scope).isEqualTo(403);
            assertThat(server.post("/webhook_endpoints/" + id + "/test", key, "").status()).as(scope).isEqualTo(403);
            assertThat(server.post("/webhook_endpoints/" + id + "/rotate-secret", key, "").status()).isEqualTo(403);
            assertThat(server.get("/webhook_endpoints/" + id + "/deliveries", key).status()).isEqualTo(403);
            assertThat(server.delete("/webhook_endpoints/" + id, key).status()).as(scope).isEqualTo(403);
        }
        assertThat(server.get("/webhook_endpoints", null).status()).isEqualTo(401);
    }

    @Test
    void another_org_neither_sees_nor_touches_an_endpoint_nor_gets_its_events() {
        start(WebhookFixture.fast());
        JsonNode mine = endpoint(server, server.adminKey(), receiver, "[\"*\"]");
        String id = mine.get("id").asText();
        String other = server.createOrg("rival");

        assertThat(server.get("/webhook_endpoints", other).json().get("webhook_endpoints")).isEmpty();
        assertThat(server.get("/webhook_endpoints/" + id, other).status()).isEqualTo(404);
        assertThat(server.patch("/webhook_endpoints/" + id, other, "{\"enabled\":false}").status()).isEqualTo(404);
        assertThat(server.post("/webhook_endpoints/" + id + "/test", other, "").status()).isEqualTo(404);
        assertThat(server.post("/webhook_endpoints/" + id + "/rotate-secret", other, "").status()).isEqualTo(404);
        assertThat(server.get("/webhook_endpoints/" + id + "/deliveries", other).status()).isEqualTo(404);
        assertThat(server.post("/webhook_endpoints/" + id + "/deliveries/1/retry", other, "").status()).isEqualTo(404);
        assertThat(server.delete("/webhook_endpoints/" + id, other).status()).isEqualTo(404);

        // The rival's own changes never reach this org's endpoint.
        Receiver theirs = Receiver.start();
        try {
            JsonNode rivalEndpoint = endpoint(server, other, theirs, "[\"*\"]");
            server.post("/api_keys", other, "{\"name\":\"rival-ci\",\"scopes\":[\"read\"]}");
            server.createKey("mine", "read");
            await().atMost(Duration.ofSeconds(20)).until(() -> theirs.received.size() == 1 && receiver.received.size() == 1);
            assertThat(theirs.received.get(0).json().get("org").asText()).isEqualTo("rival");
            assertThat(theirs.received.get(0).json().get("data").get("key").get("name").asText()).isEqualTo("rival-ci");
            assertThat(receiver.received.get(0).json().get("data").get("key").get("name").asText()).isEqualTo("mine");
            assertThat(server.get("/webhook_endpoints/" + rivalEndpoint.get("id").asText() + "/deliveries",
                    server.adminKey()).status()).isEqualTo(404);
        } finally {
            theirs.close();
        }
    }
}
