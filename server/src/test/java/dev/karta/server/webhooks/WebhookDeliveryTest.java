package dev.karta.server.webhooks;

import static dev.karta.server.webhooks.WebhookFixture.deliveries;
import static dev.karta.server.webhooks.WebhookFixture.endpoint;
import static dev.karta.server.webhooks.WebhookFixture.publish;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import dev.karta.server.Config;
import dev.karta.server.events.Events;
import dev.karta.server.store.Database;
import dev.karta.server.testkit.EachDatabase;
import dev.karta.server.testkit.TarBuilder;
import dev.karta.server.testkit.TestDatabase;
import dev.karta.server.testkit.TestServer;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.Parameter;
import org.junit.jupiter.params.ParameterizedClass;
import org.junit.jupiter.params.provider.ArgumentsSource;

/**
 * Events go out signed, in order, at least once: a local receiver checks every Standard Webhooks
 * signature with its own implementation, answers 500 or is down for a while, and sees retries.
 */
@ParameterizedClass(name = "on {0}")
@ArgumentsSource(EachDatabase.class)
class WebhookDeliveryTest {
    private static final Duration PATIENCE = Duration.ofSeconds(20);

    @Parameter
    TestDatabase database;
    @TempDir
    Path dir;

    private final String adminKey = TestServer.randomKey();
    private TestServer server;
    private Receiver receiver;

    @BeforeEach
    void start() {
        receiver = Receiver.start();
        server = TestServer.start(config(WebhookFixture.fast()));
    }

    private Config config(Config.Webhooks webhooks) {
        return database.config(dir.resolve("data"), adminKey).withWebhooks(webhooks);
    }

    @AfterEach
    void stop() {
        server.close();
        receiver.close();
    }

    @Test
    void events_arrive_signed_in_the_order_of_their_changes() {
        JsonNode endpoint = endpoint(server, server.adminKey(), receiver, "[\"*\"]");

        publish(server, "shop");
        TestServer.Response session = server.post("/v1/projects/shop/sessions", server.adminKey(), "{}");
        assertThat(session.status()).as(session.body()).isEqualTo(201);
        String keyId = server.post("/api_keys", server.adminKey(), "{\"name\":\"ci\",\"scopes\":[\"read\"]}")
                .json().get("api_key").get("id").asText();
        assertThat(server.delete("/api_keys/" + keyId, server.adminKey()).status()).isEqualTo(204);

        // In order per project; org events (keys) have an order of their own.
        List<String> project = List.of(Events.DEPLOY_QUEUED, Events.DEPLOY_SUCCEEDED, Events.RELEASE_ACTIVATED,
                Events.SESSION_CREATED);
        List<String> org = List.of(Events.KEY_CREATED, Events.KEY_REVOKED);
        await().atMost(PATIENCE).until(() -> receiver.received.size() >= project.size() + org.size());
        assertThat(receiver.types()).hasSize(project.size() + org.size());
        assertThat(receiver.types().stream().filter(project::contains).toList()).containsExactlyElementsOf(project);
        assertThat(receiver.types().stream().filter(org::contains).toList()).containsExactlyElementsOf(org);
        for (Receiver.Received r : receiver.received) {
            assertThat(r.verified()).as("signature of %s", r.body()).isTrue();
            JsonNode event = r.json();
            assertThat(r.id()).isEqualTo(event.get("id").asText()).startsWith("evt_");
            assertThat(Long.parseLong(r.timestamp())).isCloseTo(System.currentTimeMillis() / 1000,
                    within(60L));
            assertThat(event.get("org").asText()).isEqualTo("default");
            assertThat(event.get("created_at").asText()).endsWith("Z");
            assertThat(r.path()).isEqualTo("/hooks");
        }
        JsonNode activated = received(Events.RELEASE_ACTIVATED).json();
        assertThat(activated.get("project").asText()).isEqualTo("shop");
        assertThat(activated.get("data").get("release").get("version").asText()).isEqualTo("v1");
        Receiver.Received keyCreated = received(Events.KEY_CREATED);
        assertThat(keyCreated.json().get("project").isNull()).isTrue();
        assertThat(keyCreated.json().get("data").get("key").get("id").asText()).isEqualTo(keyId);
        assertThat(keyCreated.body()).doesNotContain("kt_live_");
        await().atMost(PATIENCE).untilAsserted(() -> assertThat(deliveries(server, endpoint.get("id").asText())
                .findValuesAsText("status")).containsOnly("delivered").hasSize(project.size() + org.size()));
    }

    private Receiver.Received received(String type) {
        return receiver.received.stream().filter(r -> r.type().equals(type)).findFirst().orElseThrow();
    }

    @Test
    void an_endpoint_gets_only_the_types_it_subscribes_to_and_a_failed_build_is_deploy_failed() {
        endpoint(server, server.adminKey(), receiver, "[\"deploy.failed\",\"release.rolled_back\",\"release.pinned\"]");

        publish(server, "shop");
        publish(server, "shop");
        JsonNode failed = publish(server, "shop", new TarBuilder().file("CLAUDE.md", "x")
                .file("karta.toml", "entry_point = [1, 2\n").build());
        assertThat(failed.get("status").asText()).isEqualTo("failed");
        assertThat(server.post("/agent_projects/shop/rollback", server.adminKey(), "{\"to\":\"v1\"}").status())
                .isEqualTo(200);

        await().atMost(PATIENCE).until(() -> receiver.received.size() >= 3);
        assertThat(receiver.types()).containsExactly(Events.DEPLOY_FAILED, Events.RELEASE_ROLLED_BACK,
                Events.RELEASE_PINNED);
        JsonNode failedEvent = receiver.received.get(0).json().get("data");
        assertThat(failedEvent.get("deploy").get("id").asText()).isEqualTo(failed.get("id").asText());
        assertThat(failedEvent.get("error").asText()).contains("karta.toml");
        JsonNode rolledBack = receiver.received.get(1).json().get("data");
        assertThat(rolledBack.get("release").get("version").asText()).isEqualTo("v1");
        assertThat(rolledBack.get("previous").asText()).isEqualTo("v2");
        assertThat(rolledBack.get("pinned").asBoolean()).isTrue();
    }

    @Test
    void release_activated_says_why_and_never_carries_config_values() {
        endpoint(server, server.adminKey(), receiver, "[\"release.activated\"]");

        publish(server, "shop");
        TestServer.Response set = server.patch("/agent_projects/shop/config", server.adminKey(),
                "{\"set\":{\"TOKEN\":\"s3cret-config-value\"}}");
        assertThat(set.status()).as(set.body()).isEqualTo(200);
        assertThat(server.post("/agent_projects/shop/rollback", server.adminKey(), "{\"to\":\"v1\"}").status())
                .isEqualTo(200);
        publish(server, "shop");
        assertThat(server.post("/agent_projects/shop/releases/v3/activate", server.adminKey(), "").status())
                .isEqualTo(200);

        await().atMost(PATIENCE).until(() -> receiver.received.size() >= 3);
        await().during(Duration.ofMillis(300)).atMost(PATIENCE).until(() -> receiver.received.size() == 3);
        List<String> seen = new ArrayList<>();
        for (Receiver.Received r : receiver.received) {
            JsonNode data = r.json().get("data");
            seen.add(data.get("release").get("version").asText() + " " + data.get("reason").asText() + " was "
                    + data.get("previous").asText());
            assertThat(r.body()).doesNotContain("s3cret-config-value");
        }
        assertThat(seen).containsExactly("v1 deploy was null", "v2 config was v1", "v3 activate was v1");
    }

    @Test
    void a_receiver_answering_500_gets_the_same_event_again_until_it_answers_2xx() {
        JsonNode endpoint = endpoint(server, server.adminKey(), receiver, "[\"key.created\"]");
        receiver.answer.set(500);
        receiver.failuresLeft.set(2);

        server.createKey("ci", "read");

        await().atMost(PATIENCE).until(() -> receiver.received.size() >= 3);
        assertThat(receiver.received).extracting(Receiver.Received::id).containsOnly(receiver.received.get(0).id());
        assertThat(receiver.received).allMatch(Receiver.Received::verified);
        await().atMost(PATIENCE).untilAsserted(() -> {
            JsonNode delivery = deliveries(server, endpoint.get("id").asText()).get(0);
            assertThat(delivery.get("status").asText()).isEqualTo("delivered");
            assertThat(delivery.get("attempts").asInt()).isEqualTo(3);
            assertThat(delivery.get("attempt_log").findValuesAsText("status_code")).containsExactly("500", "500", "200");
        });
        assertThat(receiver.received).hasSize(3);
    }

    @Test
    void a_receiver_down_for_a_while_gets_the_events_in_order_once_it_is_back() {
        JsonNode endpoint = endpoint(server, server.adminKey(), receiver, "[\"key.created\"]");
        receiver.down();

        for (int i = 0; i < 3; i++) {
            server.createKey("ci-" + i, "read");
        }
        await().atMost(PATIENCE).untilAsserted(() -> {
            JsonNode first = deliveries(server, endpoint.get("id").asText()).get(2);
            assertThat(first.get("attempts").asInt()).isGreaterThanOrEqualTo(2);
            assertThat(first.get("last_error").asText()).contains("could not connect");
        });
        // In order: the later events wait behind the first, never overtaking it.
        JsonNode waiting = deliveries(server, endpoint.get("id").asText());
        assertThat(waiting.get(0).get("attempts").asInt()).isZero();
        assertThat(waiting.get(1).get("attempts").asInt()).isZero();

        receiver.up();

        await().atMost(PATIENCE).until(() -> receiver.received.size() >= 3);
        List<String> names = new ArrayList<>();
        receiver.received.forEach(r -> names.add(r.json().get("data").get("key").get("name").asText()));
        assertThat(names).containsExactly("ci-0", "ci-1", "ci-2");
        assertThat(receiver.received).allMatch(Receiver.Received::verified);
    }

    @Test
    void an_event_of_a_change_that_rolled_back_is_never_sent() {
        endpoint(server, server.adminKey(), receiver, "[\"key.created\"]");
        try (Database db = server.openDatabase()) {
            String orgId = db.withHandle(h -> h.select("SELECT id FROM orgs WHERE name = 'default'")
                    .mapTo(String.class).one());
            try {
                db.inTransaction(h -> {
                    Events.record(h, orgId, null, Events.KEY_CREATED, Map.of("key", Map.of("name", "rolled-back")));
                    throw new IllegalStateException("the change fails after its event was recorded");
                });
            } catch (IllegalStateException expected) {
                // rolled back
            }
            int events = db.withHandle(h -> h.select("SELECT COUNT(*) FROM webhook_events").mapTo(Integer.class).one());
            assertThat(events)
                    .isZero();
        }

        server.createKey("committed", "read");

        await().atMost(PATIENCE).until(() -> !receiver.received.isEmpty());
        await().during(Duration.ofMillis(500)).atMost(PATIENCE).until(() -> receiver.received.size() == 1);
        assertThat(receiver.received.get(0).json().get("data").get("key").get("name").asText()).isEqualTo("committed");
    }

    @Test
    void after_the_retry_window_the_delivery_is_given_up_and_the_endpoint_disabled_with_its_reason() {
        server.close();
        server = TestServer.start(config(WebhookFixture.fast().withSchedule(
                List.of(Duration.ofMillis(200)), Duration.ofMillis(1500), Duration.ofSeconds(3), Duration.ofMillis(100))));
        JsonNode endpoint = endpoint(server, server.adminKey(), receiver, "[\"key.created\"]");
        String id = endpoint.get("id").asText();
        receiver.answer.set(503);

        server.createKey("ci", "read");

        await().atMost(PATIENCE).untilAsserted(() -> {
            JsonNode e = server.get("/webhook_endpoints/" + id, server.adminKey()).json();
            assertThat(e.get("enabled").asBoolean()).isFalse();
            assertThat(e.get("disabled_reason").asText()).contains("failed for").contains("HTTP 503");
        });
        JsonNode given = deliveries(server, id).get(0);
        assertThat(given.get("status").asText()).isEqualTo("failed");
        int attempts = receiver.received.size();
        assertThat(attempts).isGreaterThan(2);

        // Disabled: new events are not recorded for it, and a test event is refused.
        server.createKey("while-disabled", "read");
        assertThat(server.post("/webhook_endpoints/" + id + "/test", server.adminKey(), "").status()).isEqualTo(409);

        receiver.failuresLeft.set(0);
        TestServer.Response enabled = server.patch("/webhook_endpoints/" + id, server.adminKey(), "{\"enabled\":true}");
        assertThat(enabled.json().get("enabled").asBoolean()).isTrue();
        assertThat(enabled.json().get("disabled_reason").isNull()).isTrue();
        TestServer.Response retried = server.post("/webhook_endpoints/" + id + "/deliveries/"
                + given.get("id").asLong() + "/retry", server.adminKey(), "");
        assertThat(retried.status()).as(retried.body()).isEqualTo(202);

        await().atMost(PATIENCE).until(() -> deliveries(server, id).get(0).get("status").asText().equals("delivered"));
        assertThat(deliveries(server, id)).hasSize(1);
        assertThat(receiver.received.get(receiver.received.size() - 1).json().get("data").get("key").get("name")
                .asText()).isEqualTo("ci");
    }

    @Test
    void a_redirect_is_not_followed_and_counts_as_a_failure() {
        JsonNode endpoint = endpoint(server, server.adminKey(), receiver, "[\"key.created\"]");
        receiver.answer.set(302);
        receiver.failuresLeft.set(1);

        server.createKey("ci", "read");

        await().atMost(PATIENCE).until(() -> deliveries(server, endpoint.get("id").asText()).get(0).get("status")
                .asText().equals("delivered"));
        assertThat(receiver.received).extracting(Receiver.Received::path).containsExactly("/hooks", "/hooks");
        assertThat(deliveries(server, endpoint.get("id").asText()).get(0).get("attempt_log").get(0).get("error")
                .asText()).contains("HTTP 302").contains("not followed");
    }

    @Test
    void test_sends_a_ping_and_retry_sends_a_delivered_event_again_with_the_same_id() {
        JsonNode endpoint = endpoint(server, server.adminKey(), receiver, "[\"deploy.succeeded\"]");
        String id = endpoint.get("id").asText();

        TestServer.Response ping = server.post("/webhook_endpoints/" + id + "/test", server.adminKey(), "");
        assertThat(ping.status()).as(ping.body()).isEqualTo(202);
        assertThat(ping.json().get("event_type").asText()).isEqualTo("ping");

        await().atMost(PATIENCE).until(() -> receiver.received.size() == 1);
        Receiver.Received first = receiver.received.get(0);
        assertThat(first.type()).isEqualTo("ping");
        assertThat(first.verified()).isTrue();
        await().atMost(PATIENCE).until(() -> deliveries(server, id).get(0).get("status").asText().equals("delivered"));

        server.post("/webhook_endpoints/" + id + "/deliveries/" + ping.json().get("id").asLong() + "/retry",
                server.adminKey(), "");

        await().atMost(PATIENCE).until(() -> receiver.received.size() == 2);
        assertThat(receiver.received.get(1).id()).isEqualTo(first.id());
        assertThat(receiver.received.get(1).body()).isEqualTo(first.body());
    }

    @Test
    void a_rotated_secret_signs_the_next_deliveries_and_secrets_are_sealed_at_rest() {
        JsonNode endpoint = endpoint(server, server.adminKey(), receiver, "[\"key.created\"]");
        String id = endpoint.get("id").asText();
        String rotated = server.post("/webhook_endpoints/" + id + "/rotate-secret", server.adminKey(), "")
                .json().get("secret").asText();
        // The receiver still knows the secret from creation; the delivery is signed with the rotated one.
        server.createKey("ci", "read");
        await().atMost(PATIENCE).until(() -> receiver.received.size() == 1);
        assertThat(receiver.received.get(0).verified()).isFalse();
        assertThat(Receiver.verify(rotated, receiver.received.get(0).id(), receiver.received.get(0).timestamp(),
                receiver.received.get(0).body(), receiver.received.get(0).signature())).isTrue();

        assertThat(rotated).matches("whsec_[A-Za-z0-9+/]{43}=");
        assertThat(server.get("/webhook_endpoints/" + id, server.adminKey()).body()).doesNotContain("whsec_");
        try (Database db = server.openDatabase()) {
            String stored = db.withHandle(h -> h.select("SELECT secret FROM webhook_endpoints WHERE id = ?", id)
                    .mapTo(String.class).one());
            assertThat(stored).doesNotContain(rotated.substring(6)).doesNotStartWith("whsec_");
        }
    }

    @Test
    void finished_deliveries_are_swept_after_the_history_period_and_pending_ones_stay() {
        JsonNode endpoint = endpoint(server, server.adminKey(), receiver, "[\"key.created\"]");
        String id = endpoint.get("id").asText();
        server.createKey("old", "read");
        await().atMost(PATIENCE).until(() -> deliveries(server, id).get(0).get("status").asText().equals("delivered"));
        receiver.down();
        server.createKey("pending", "read");

        try (Database db = server.openDatabase()) {
            Deliveries sweeper = new Deliveries(db, null, WebhookFixture.fast());
            long later = System.currentTimeMillis() + Deliveries.HISTORY.toMillis() + 60_000;
            assertThat(sweeper.sweep(System.currentTimeMillis())).isZero();
            assertThat(sweeper.sweep(later)).isEqualTo(1);
            sweeper.close();
            List<String> events = db.withHandle(h -> h.select("SELECT type FROM webhook_events").mapTo(String.class)
                    .list());
            assertThat(events).containsExactly("key.created");
        }
        JsonNode left = deliveries(server, id);
        assertThat(left).hasSize(1);
        assertThat(left.get(0).get("status").asText()).isEqualTo("pending");
        receiver.up();
    }

    @Test
    void deleting_a_project_drops_its_pending_events() {
        JsonNode endpoint = endpoint(server, server.adminKey(), receiver, "[\"*\"]");
        receiver.down();
        publish(server, "shop");
        assertThat(server.delete("/agent_projects/shop", server.adminKey()).status()).isEqualTo(204);

        assertThat(deliveries(server, endpoint.get("id").asText())).isEmpty();
        receiver.up();
    }
}
