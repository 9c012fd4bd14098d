package dev.karta.server.webhooks;

import static dev.karta.server.previews.Previewing.awaitRelease;
import static dev.karta.server.previews.Previewing.commit;
import static dev.karta.server.previews.Previewing.deliver;
import static dev.karta.server.webhooks.WebhookFixture.endpoint;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import dev.karta.server.Config;
import dev.karta.server.events.Events;
import dev.karta.server.ingest.webhooks.Hooks;
import dev.karta.server.previews.Previewing;
import dev.karta.server.repos.FakeGitHub;
import dev.karta.server.testkit.EachDatabase;
import dev.karta.server.testkit.TestDatabase;
import dev.karta.server.testkit.TestServer;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.Parameter;
import org.junit.jupiter.params.ParameterizedClass;
import org.junit.jupiter.params.provider.ArgumentsSource;

/**
 * A preview's life as a receiver sees it: a signed GitHub {@code pull_request} builds the preview
 * (deploy events naming it, then {@code preview.ready}), promoting it activates a production
 * release, and closing the pull request sends {@code preview.expired}.
 */
@ParameterizedClass(name = "on {0}")
@ArgumentsSource(EachDatabase.class)
class PreviewEventsTest {
    @Parameter
    TestDatabase database;
    @TempDir
    Path dir;

    private FakeGitHub github;
    private Receiver receiver;
    private TestServer server;

    @BeforeEach
    void start() {
        github = FakeGitHub.start();
        receiver = Receiver.start();
        server = TestServer.start(Previewing.config(database, dir, github, Config.Previews.DEFAULTS)
                .withWebhooks(WebhookFixture.fast()));
    }

    @AfterEach
    void stop() {
        server.close();
        receiver.close();
        github.close();
    }

    @Test
    void a_pull_request_sends_deploy_preview_and_promotion_events_in_order() {
        endpoint(server, server.adminKey(), receiver, "[\"*\"]");
        assertThat(server.post("/agent_projects", server.adminKey(), "{\"name\":\"preview-app\"}").status()).isEqualTo(201);
        String secret = Hooks.bind(server, server.adminKey(), "preview-app", "{\"url\":\"https://github.com/acme/preview-app\"}")
                .json().get("webhook_secret").asText();
        String head = commit(github, "acme/preview-app", "previewed");

        deliver(server, secret, "acme/preview-app", "opened", 9, head, "acme/preview-app");
        awaitRelease(server, "preview-app", "pr-9", "pr-9.1");
        TestServer.Response promoted = server.post("/agent_projects/preview-app/previews/pr-9/promote", server.adminKey(), "{}");
        assertThat(promoted.status()).as(promoted.body()).isEqualTo(200);
        assertThat(deliver(server, secret, "acme/preview-app", "closed", 9, head, "acme/preview-app").status()).isEqualTo(200);

        List<String> expected = List.of(Events.DEPLOY_QUEUED, Events.DEPLOY_SUCCEEDED, Events.PREVIEW_READY,
                Events.RELEASE_ACTIVATED, Events.PREVIEW_EXPIRED);
        await().atMost(Duration.ofSeconds(30)).until(() -> receiver.received.size() >= expected.size());
        assertThat(receiver.types()).containsExactlyElementsOf(expected);
        assertThat(receiver.received).allSatisfy(r -> assertThat(r.verified()).isTrue());
        JsonNode queued = data(Events.DEPLOY_QUEUED);
        assertThat(queued.get("deploy").get("preview").asText()).isEqualTo("pr-9");
        assertThat(queued.get("deploy").get("source").asText()).isEqualTo("webhook");
        JsonNode succeeded = data(Events.DEPLOY_SUCCEEDED);
        assertThat(succeeded.get("release").get("version").asText()).isEqualTo("pr-9.1");
        JsonNode ready = data(Events.PREVIEW_READY).get("preview");
        assertThat(ready.get("name").asText()).isEqualTo("pr-9");
        assertThat(ready.get("pr").asInt()).isEqualTo(9);
        assertThat(ready.get("release").asText()).isEqualTo("pr-9.1");
        assertThat(ready.get("commit_sha").asText()).isEqualTo(head);
        assertThat(ready.get("url").asText()).isEqualTo(server.uri("/v1/projects/preview-app/previews/pr-9").toString());
        JsonNode activated = data(Events.RELEASE_ACTIVATED);
        assertThat(activated.get("reason").asText()).isEqualTo("promote");
        assertThat(activated.get("release").get("version").asText()).isEqualTo("v1");
        JsonNode expired = data(Events.PREVIEW_EXPIRED).get("preview");
        assertThat(expired.get("name").asText()).isEqualTo("pr-9");
        assertThat(expired.get("reason").asText()).isEqualTo("closed");
    }

    private JsonNode data(String type) {
        return receiver.received.stream().filter(r -> r.type().equals(type)).findFirst().orElseThrow()
                .json().get("data");
    }
}
