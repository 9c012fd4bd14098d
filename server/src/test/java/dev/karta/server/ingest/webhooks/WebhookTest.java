package dev.karta.server.ingest.webhooks;

import static dev.karta.server.ingest.webhooks.Hooks.awaitDeployEnded;
import static dev.karta.server.ingest.webhooks.Hooks.awaitStatus;
import static dev.karta.server.ingest.webhooks.Hooks.deliver;
import static dev.karta.server.ingest.webhooks.Hooks.deploys;
import static dev.karta.server.ingest.webhooks.Hooks.newDelivery;
import static dev.karta.server.ingest.webhooks.Hooks.ping;
import static dev.karta.server.ingest.webhooks.Hooks.push;
import static dev.karta.server.ingest.webhooks.Hooks.sha;
import static dev.karta.server.ingest.webhooks.Hooks.sign;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.karta.server.Config;
import dev.karta.server.repos.FakeGitHub;
import dev.karta.server.testkit.EachDatabase;
import dev.karta.server.testkit.TestDatabase;
import dev.karta.server.testkit.TestServer;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.net.URLEncoder;
import java.net.http.HttpRequest;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.StreamSupport;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.AfterParameterizedClassInvocation;
import org.junit.jupiter.params.BeforeParameterizedClassInvocation;
import org.junit.jupiter.params.Parameter;
import org.junit.jupiter.params.ParameterizedClass;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ArgumentsSource;
import org.junit.jupiter.params.provider.ValueSource;

/** Webhook rules (docs/github.md): {@code POST /webhooks/github}, signed with the bound project's secret. */
@ParameterizedClass(name = "on {0}")
@ArgumentsSource(EachDatabase.class)
class WebhookTest {
    private static final String REPO = "acme/shop-agent";
    private static final AtomicInteger COMMITS = new AtomicInteger(100);
    private static final ObjectMapper JSON = new ObjectMapper();

    @Parameter
    TestDatabase database;
    @TempDir
    static Path temp;
    static Path dataDir;
    static FakeGitHub github;
    static TestServer server;

    @BeforeParameterizedClassInvocation
    static void start(TestDatabase database) {
        github = FakeGitHub.start();
        dataDir = temp.resolve(database.toString());
        server = Hooks.start(database, dataDir, github);
    }

    @AfterParameterizedClassInvocation
    static void stop() {
        server.close();
        github.close();
    }

    /** A project bound to {@link #REPO} on {@code main}, with its secret. */
    private record Bound(String project, String secret) {
    }

    private static final AtomicInteger PROJECTS = new AtomicInteger();

    private static Bound bound() {
        String project = "hook-" + PROJECTS.incrementAndGet();
        return new Bound(project, Hooks.createAndBind(server, project, "https://github.com/" + REPO, null));
    }

    /** A commit GitHub has, whose app says {@code marker}. */
    private static String commit(String marker) {
        String sha = sha(COMMITS.incrementAndGet());
        github.commit(REPO, sha, marker);
        return sha;
    }

    @Test
    void a_signed_push_to_the_bound_branch_deploys_after_from_the_github_tarball() {
        Bound b = bound();
        String after = commit("pushed");
        String delivery = newDelivery();

        TestServer.Response answer = deliver(server, "push", delivery, push(REPO, "refs/heads/main", after), b.secret());

        assertThat(answer.status()).as(answer.body()).isEqualTo(202);
        JsonNode body = answer.json();
        assertThat(body.get("outcome").asText()).isEqualTo("deployed");
        assertThat(body.get("delivery").asText()).isEqualTo(delivery);
        assertThat(body.get("project").asText()).isEqualTo(b.project());
        assertThat(body.get("commit_sha").asText()).isEqualTo(after);
        JsonNode ended = awaitDeployEnded(server, b.project(), body.get("deploy_id").asText());
        assertThat(ended.get("status").asText()).as(ended.toString()).isEqualTo("succeeded");
        assertThat(ended.get("source").asText()).isEqualTo("webhook");
        JsonNode release = Hooks.releases(server, b.project()).get(0);
        assertThat(release.get("commit_sha").asText()).isEqualTo(after);
        assertThat(release.get("source").asText()).isEqualTo("webhook");
        assertThat(release.get("trigger").asText()).isEqualTo("webhook:" + delivery);
        assertThat(release.get("actor_key_id").isNull()).isTrue();
        assertThat(release.get("harness").asText()).as("CLAUDE.md sits at the root once the top folder is stripped")
                .isEqualTo("claude");
        Path tree = dataDir.resolve("trees").resolve(release.get("content_digest").asText().substring("sha256:".length()));
        assertThat(tree.resolve("CLAUDE.md")).hasContent("# pushed");
        assertThat(github.seen()).anySatisfy(s -> assertThat(s.path()).isEqualTo("/repos/" + REPO + "/tarball/" + after));
    }

    @Test
    void a_wrong_secret_is_401_and_queues_nothing() {
        Bound b = bound();

        TestServer.Response answer = deliver(server, "push", newDelivery(), push(REPO, "refs/heads/main", commit("x")),
                "0".repeat(64));

        assertThat(answer.status()).isEqualTo(401);
        assertThat(answer.json().get("error").asText()).isEqualTo("unauthorized");
        assertThat(deploys(server, b.project())).isEmpty();
    }

    @Test
    void a_missing_signature_is_401_and_queues_nothing() {
        Bound b = bound();

        TestServer.Response answer = deliver(server, "push", newDelivery(), push(REPO, "refs/heads/main", commit("x")),
                null);

        assertThat(answer.status()).isEqualTo(401);
        assertThat(answer.json().get("message").asText()).contains("missing X-Hub-Signature-256");
        assertThat(deploys(server, b.project())).isEmpty();
    }

    @Test
    void a_body_altered_by_one_byte_after_signing_is_401() {
        Bound b = bound();
        byte[] body = push(REPO, "refs/heads/main", commit("x")).getBytes(StandardCharsets.UTF_8);
        String signature = sign(b.secret(), body);
        byte[] altered = Arrays.copyOf(body, body.length);
        int at = new String(body, StandardCharsets.UTF_8).indexOf("octocat");
        altered[at] = 'O';

        TestServer.Response answer = deliver(server, "push", newDelivery(), altered, signature);

        assertThat(answer.status()).isEqualTo(401);
        assertThat(deploys(server, b.project())).isEmpty();
        assertThat(deliver(server, "push", newDelivery(), body, signature).status())
                .as("the unaltered body verifies").isEqualTo(202);
    }

    @Test
    void a_signature_in_another_format_is_401() {
        Bound b = bound();
        byte[] body = push(REPO, "refs/heads/main", commit("x")).getBytes(StandardCharsets.UTF_8);
        String hex = sign(b.secret(), body).substring("sha256=".length());

        assertThat(deliver(server, "push", newDelivery(), body, hex).status()).isEqualTo(401);
        assertThat(deliver(server, "push", newDelivery(), body, "sha1=" + hex).status()).isEqualTo(401);
        assertThat(deliver(server, "push", newDelivery(), body, "sha256=" + hex.substring(1)).status()).isEqualTo(401);
        assertThat(deploys(server, b.project())).isEmpty();
    }

    @ParameterizedTest
    @ValueSource(strings = {"acme/shop-agent-old", "acme/shop-agen", "other/shop-agent", "acme/shop-agent/x", "acme",
            "acme-shop-agent"})
    void a_repository_that_only_resembles_the_bound_one_is_401(String fullName) {
        Bound b = bound();
        String after = commit("x");

        TestServer.Response answer = deliver(server, "push", newDelivery(), push(fullName, "refs/heads/main", after),
                b.secret());

        assertThat(answer.status()).as(answer.body()).isEqualTo(401);
        assertThat(deploys(server, b.project())).isEmpty();
    }

    @Test
    void owner_and_repository_names_match_without_regard_to_case_as_on_github() {
        Bound b = bound();

        TestServer.Response answer = deliver(server, "push", newDelivery(),
                push("Acme/Shop-Agent", "refs/heads/main", commit("cased")), b.secret());

        assertThat(answer.status()).as(answer.body()).isEqualTo(202);
        assertThat(answer.json().get("project").asText()).isEqualTo(b.project());
    }

    @Test
    void an_unbound_repository_gets_the_same_401_as_a_wrong_secret() {
        Bound b = bound();
        String body = push("acme/never-bound", "refs/heads/main", commit("x"));

        TestServer.Response unbound = deliver(server, "push", newDelivery(), body, b.secret());
        TestServer.Response wrongSecret = deliver(server, "push", newDelivery(),
                push(REPO, "refs/heads/main", commit("y")), "f".repeat(64));

        assertThat(unbound.status()).isEqualTo(401);
        assertThat(unbound.body()).isEqualTo(wrongSecret.body());
        assertThat(unbound.body()).doesNotContain(b.project());
    }

    @Test
    void a_push_to_another_branch_is_acknowledged_and_ignored() {
        Bound b = bound();

        TestServer.Response answer = deliver(server, "push", newDelivery(),
                push(REPO, "refs/heads/feature/login", commit("feature")), b.secret());

        assertThat(answer.status()).isEqualTo(200);
        assertThat(answer.json().get("outcome").asText()).isEqualTo("ignored");
        assertThat(answer.json().get("message").asText())
                .isEqualTo("push to refs/heads/feature/login does not deploy; pushes to branch 'main' do");
        assertThat(deploys(server, b.project())).isEmpty();
    }

    @Test
    void a_branch_whose_name_only_ends_like_the_bound_one_is_ignored() {
        Bound b = bound();

        TestServer.Response answer = deliver(server, "push", newDelivery(),
                push(REPO, "refs/heads/old/main", commit("x")), b.secret());

        assertThat(answer.json().get("outcome").asText()).isEqualTo("ignored");
        assertThat(deploys(server, b.project())).isEmpty();
    }

    @Test
    void a_tag_push_is_acknowledged_and_ignored() {
        Bound b = bound();

        TestServer.Response answer = deliver(server, "push", newDelivery(), push(REPO, "refs/tags/v1.0", commit("tag")),
                b.secret());

        assertThat(answer.status()).isEqualTo(200);
        assertThat(answer.json().get("outcome").asText()).isEqualTo("ignored");
        assertThat(answer.json().get("message").asText()).startsWith("tag push (refs/tags/v1.0) does not deploy");
        assertThat(deploys(server, b.project())).isEmpty();
    }

    @Test
    void deleting_the_bound_branch_is_acknowledged_and_ignored() {
        Bound b = bound();

        TestServer.Response deleted = deliver(server, "push", newDelivery(),
                push(REPO, "refs/heads/main", "0".repeat(40), true), b.secret());
        TestServer.Response zeroAfter = deliver(server, "push", newDelivery(),
                push(REPO, "refs/heads/main", "0".repeat(40), false), b.secret());

        assertThat(deleted.status()).isEqualTo(200);
        assertThat(deleted.json().get("outcome").asText()).isEqualTo("ignored");
        assertThat(deleted.json().get("message").asText()).isEqualTo("deletion of refs/heads/main does not deploy");
        assertThat(zeroAfter.json().get("outcome").asText()).isEqualTo("ignored");
        assertThat(deploys(server, b.project())).isEmpty();
    }

    @Test
    void a_redelivery_is_answered_200_and_queues_nothing() {
        Bound b = bound();
        String delivery = newDelivery();
        String body = push(REPO, "refs/heads/main", commit("once"));

        TestServer.Response first = deliver(server, "push", delivery, body, b.secret());
        TestServer.Response again = deliver(server, "push", delivery, body, b.secret());

        assertThat(first.status()).isEqualTo(202);
        assertThat(again.status()).isEqualTo(200);
        assertThat(again.json().get("outcome").asText()).isEqualTo("duplicate");
        assertThat(again.json().has("deploy_id")).isFalse();
        assertThat(deploys(server, b.project())).hasSize(1);
        awaitDeployEnded(server, b.project(), first.json().get("deploy_id").asText());
    }

    /** A push from {@code before} to {@code after}, as GitHub sends it after a (force) push. */
    private static String pushFrom(String before, String after) {
        return Hooks.push(REPO, "refs/heads/main", after).replace("\"before\":\"" + "1".repeat(40) + "\"",
                "\"before\":\"" + before + "\"");
    }

    @Test
    void a_replayed_body_under_a_new_delivery_id_is_200_and_queues_nothing() {
        Bound b = bound();
        String old = commit("old");
        String body = pushFrom(sha(1), old);
        String firstDelivery = newDelivery();
        TestServer.Response first = deliver(server, "push", firstDelivery, body, b.secret());
        awaitDeployEnded(server, b.project(), first.json().get("deploy_id").asText());

        TestServer.Response replay = deliver(server, "push", newDelivery(), body, b.secret());

        assertThat(replay.status()).isEqualTo(200);
        assertThat(replay.json().get("outcome").asText()).isEqualTo("duplicate");
        assertThat(replay.json().get("message").asText()).contains("already processed").contains(firstDelivery);
        assertThat(replay.json().has("deploy_id")).isFalse();
        assertThat(deploys(server, b.project())).hasSize(1);
    }

    @Test
    void a_force_push_back_to_an_older_commit_still_deploys_it() {
        Bound b = bound();
        String older = commit("older");
        String newer = commit("newer");

        TestServer.Response first = deliver(server, "push", newDelivery(), pushFrom(sha(1), older), b.secret());
        awaitDeployEnded(server, b.project(), first.json().get("deploy_id").asText());
        TestServer.Response second = deliver(server, "push", newDelivery(), pushFrom(older, newer), b.secret());
        awaitDeployEnded(server, b.project(), second.json().get("deploy_id").asText());
        TestServer.Response back = deliver(server, "push", newDelivery(), pushFrom(newer, older), b.secret());

        assertThat(back.status()).as(back.body()).isEqualTo(202);
        assertThat(back.json().get("commit_sha").asText()).isEqualTo(older);
        assertThat(deploys(server, b.project())).hasSize(3);
    }

    @Test
    void concurrent_copies_of_one_delivery_queue_one_deploy() throws Exception {
        Bound b = bound();
        String delivery = newDelivery();
        String body = push(REPO, "refs/heads/main", commit("racing"));
        Thread[] threads = new Thread[4];
        int[] statuses = new int[threads.length];
        for (int i = 0; i < threads.length; i++) {
            int n = i;
            threads[i] = new Thread(() -> statuses[n] = deliver(server, "push", delivery, body, b.secret()).status());
            threads[i].start();
        }
        for (Thread t : threads) {
            t.join();
        }

        assertThat(statuses).containsOnlyOnce(202).contains(200);
        assertThat(deploys(server, b.project())).hasSize(1);
    }

    @Test
    void a_redelivery_of_an_ignored_push_is_a_duplicate_too() {
        Bound b = bound();
        String delivery = newDelivery();
        String body = push(REPO, "refs/heads/dev", commit("dev"));

        assertThat(deliver(server, "push", delivery, body, b.secret()).json().get("outcome").asText()).isEqualTo("ignored");
        assertThat(deliver(server, "push", delivery, body, b.secret()).json().get("outcome").asText())
                .isEqualTo("duplicate");
    }

    @Test
    void a_signed_ping_is_200_and_an_unsigned_one_401() {
        Bound b = bound();

        TestServer.Response pong = deliver(server, "ping", newDelivery(), ping(REPO), b.secret());
        TestServer.Response unsigned = deliver(server, "ping", newDelivery(), ping(REPO), null);

        assertThat(pong.status()).isEqualTo(200);
        assertThat(pong.json().get("outcome").asText()).isEqualTo("pong");
        assertThat(pong.json().get("message").asText()).contains("pushes to 'main' deploy");
        assertThat(unsigned.status()).isEqualTo(401);
        assertThat(deploys(server, b.project())).isEmpty();
    }

    @Test
    void other_events_are_acknowledged_and_ignored() {
        Bound b = bound();

        TestServer.Response answer = deliver(server, "issues", newDelivery(),
                "{\"action\":\"opened\",\"repository\":{\"full_name\":\"" + REPO + "\"}}", b.secret());

        assertThat(answer.status()).isEqualTo(200);
        assertThat(answer.json().get("outcome").asText()).isEqualTo("ignored");
        assertThat(answer.json().get("message").asText()).contains("event 'issues' does not deploy");
    }

    /**
     * GitHub's own {@code push} example ({@code github/push.json}) for {@link #REPO}: its
     * repository URLs rewritten, {@code ref} and {@code after} set.
     */
    private static ObjectNode githubPush(String ref, String after) {
        try (InputStream in = WebhookTest.class.getResourceAsStream("/github/push.json")) {
            String text = new String(in.readAllBytes(), StandardCharsets.UTF_8).replace("Codertocat/Hello-World", REPO);
            ObjectNode payload = (ObjectNode) JSON.readTree(text);
            payload.put("ref", ref);
            payload.put("after", after);
            ((ObjectNode) payload.get("head_commit")).put("id", after);
            return payload;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static String example(String name) {
        try (InputStream in = WebhookTest.class.getResourceAsStream("/github/" + name)) {
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** {@code payload=<url-encoded JSON>}, as GitHub sends a webhook whose content type is left at its default. */
    private static byte[] form(String json) {
        return ("payload=" + URLEncoder.encode(json, StandardCharsets.UTF_8)).getBytes(StandardCharsets.US_ASCII);
    }

    private static TestServer.Response deliverAs(String contentType, String event, byte[] body, String signature) {
        HttpRequest.Builder request = server.request("/webhooks/github", null)
                .header("Content-Type", contentType)
                .header("User-Agent", "GitHub-Hookshot/abc123")
                .header("X-GitHub-Event", event).header("X-GitHub-Delivery", newDelivery())
                .POST(HttpRequest.BodyPublishers.ofByteArray(body));
        if (signature != null) {
            request.header("X-Hub-Signature-256", signature);
        }
        return server.send(request);
    }

    /** A push of GitHub's example shape listing {@code files} added files, about {@code bytes} long. */
    private static byte[] pushListing(String after, int bytes) {
        ObjectNode payload = githubPush("refs/heads/main", after);
        ArrayNode commits = payload.putArray("commits");
        ObjectNode commit = commits.addObject().put("id", after).put("message", "Add the catalogue");
        ArrayNode added = commit.putArray("added");
        int size = payload.toString().length();
        for (int i = 0; size < bytes; i++) {
            String path = "catalogue/items/" + (i / 1000) + "/item-" + i + "-description.md";
            added.add(path);
            size += path.length() + 3;
        }
        return payload.toString().getBytes(StandardCharsets.UTF_8);
    }

    @Test
    void a_form_encoded_push_as_github_sends_it_by_default_deploys() {
        Bound b = bound();
        String after = commit("form");
        byte[] body = form(githubPush("refs/heads/main", after).toString());

        TestServer.Response answer = deliverAs("application/x-www-form-urlencoded", "push", body, sign(b.secret(), body));

        assertThat(answer.status()).as(answer.body()).isEqualTo(202);
        assertThat(answer.json().get("commit_sha").asText()).isEqualTo(after);
        JsonNode ended = awaitDeployEnded(server, b.project(), answer.json().get("deploy_id").asText());
        assertThat(ended.get("status").asText()).as(ended.toString()).isEqualTo("succeeded");
    }

    @Test
    void a_form_encoded_delivery_is_verified_on_the_raw_body_not_on_the_decoded_json() {
        Bound b = bound();
        String json = githubPush("refs/heads/main", commit("form")).toString();
        byte[] body = form(json);

        TestServer.Response signedJson = deliverAs("application/x-www-form-urlencoded", "push", body,
                sign(b.secret(), json.getBytes(StandardCharsets.UTF_8)));

        assertThat(signedJson.status()).isEqualTo(401);
        assertThat(deploys(server, b.project())).isEmpty();
    }

    @Test
    void a_form_encoded_delivery_without_a_payload_field_is_400() {
        Bound b = bound();
        byte[] body = "data=%7B%7D".getBytes(StandardCharsets.US_ASCII);

        TestServer.Response answer = deliverAs("application/x-www-form-urlencoded", "push", body, sign(b.secret(), body));

        assertThat(answer.status()).isEqualTo(400);
        assertThat(answer.json().get("message").asText()).contains("no 'payload' field");
    }

    @Test
    void another_content_type_is_415_naming_the_two_github_sends() {
        Bound b = bound();
        byte[] body = push(REPO, "refs/heads/main", commit("x")).getBytes(StandardCharsets.UTF_8);

        TestServer.Response answer = deliverAs("text/plain", "push", body, sign(b.secret(), body));

        assertThat(answer.status()).isEqualTo(415);
        assertThat(answer.json().get("message").asText())
                .contains("application/json", "application/x-www-form-urlencoded", "'text/plain'");
        assertThat(deploys(server, b.project())).isEmpty();
    }

    @Test
    void githubs_repository_ping_example_signed_with_the_secret_is_a_pong() {
        Bound b = bound();
        byte[] body = example("ping.json").replace("Octocoders/Hello-World", REPO).getBytes(StandardCharsets.UTF_8);

        TestServer.Response answer = deliverAs("application/json", "ping", body, sign(b.secret(), body));

        assertThat(answer.status()).as(answer.body()).isEqualTo(200);
        assertThat(answer.json().get("project").asText()).isEqualTo(b.project());
        assertThat(answer.json().get("outcome").asText()).isEqualTo("pong");
    }

    @Test
    void an_organization_ping_naming_no_repository_is_200_saying_what_to_set_up() {
        byte[] body = example("ping.organization.json").getBytes(StandardCharsets.UTF_8);

        TestServer.Response signed = deliverAs("application/json", "ping", body, sign("any-org-secret", body));
        TestServer.Response asForm = deliverAs("application/x-www-form-urlencoded", "ping",
                form(example("ping.organization.json")), null);

        assertThat(signed.status()).as(signed.body()).isEqualTo(200);
        assertThat(signed.json().get("outcome").asText()).isEqualTo("pong");
        assertThat(signed.json().get("message").asText()).contains("names no repository",
                "add the webhook to the repository itself");
        assertThat(signed.json().has("project")).isFalse();
        assertThat(asForm.status()).isEqualTo(200);
    }

    @Test
    void an_organization_push_is_still_checked_against_its_repositorys_binding() {
        Bound b = bound();
        ObjectNode payload = githubPush("refs/heads/main", commit("org"));
        byte[] body = payload.toString().getBytes(StandardCharsets.UTF_8);

        TestServer.Response answer = deliverAs("application/json", "push", body, sign("the-org-hook-secret", body));

        assertThat(answer.status()).isEqualTo(401);
        assertThat(deploys(server, b.project())).isEmpty();
    }

    @Test
    void a_ten_megabyte_push_listing_thousands_of_files_deploys() {
        Bound b = bound();
        String after = commit("big");
        byte[] body = pushListing(after, 10_000_000);
        assertThat(body.length).isGreaterThan(10_000_000);

        TestServer.Response answer = deliverAs("application/json", "push", body, sign(b.secret(), body));

        assertThat(answer.status()).as(answer.body()).isEqualTo(202);
        awaitDeployEnded(server, b.project(), answer.json().get("deploy_id").asText());
    }

    @Test
    void a_payload_past_githubs_25_mib_cap_is_413_naming_the_limit_and_queues_nothing() {
        Bound b = bound();
        byte[] body = pushListing(commit("huge"), (25 << 20) + 1);
        assertThat(body.length).isGreaterThan(25 << 20);

        TestServer.Response answer = deliverAs("application/json", "push", body, sign(b.secret(), body));

        assertThat(answer.status()).isEqualTo(413);
        assertThat(answer.json().get("message").asText()).contains("26214400 bytes (25 MiB", "max_webhook_bytes");
        assertThat(deploys(server, b.project())).isEmpty();
    }

    @Test
    void a_rotated_secret_replaces_the_old_one_at_once() {
        Bound b = bound();
        TestServer.Response rotated = server.post("/agent_projects/" + b.project() + "/repo/rotate-secret",
                server.adminKey(), "");
        assertThat(rotated.status()).as(rotated.body()).isEqualTo(200);
        String fresh = rotated.json().get("webhook_secret").asText();

        assertThat(fresh).isNotEqualTo(b.secret());
        assertThat(deliver(server, "ping", newDelivery(), ping(REPO), b.secret()).status()).isEqualTo(401);
        assertThat(deliver(server, "ping", newDelivery(), ping(REPO), fresh).status()).isEqualTo(200);
    }

    @Test
    void an_unbound_project_no_longer_accepts_its_old_secret() {
        Bound b = bound();
        assertThat(server.delete("/agent_projects/" + b.project() + "/repo", server.adminKey()).status()).isEqualTo(204);

        TestServer.Response answer = deliver(server, "push", newDelivery(), push(REPO, "refs/heads/main", commit("x")),
                b.secret());

        assertThat(answer.status()).isEqualTo(401);
        assertThat(deploys(server, b.project())).isEmpty();
    }

    @Test
    void two_projects_bound_to_one_repository_each_take_the_deliveries_signed_for_them() {
        Bound production = bound();
        String staging = "hook-staging-" + PROJECTS.incrementAndGet();
        String stagingSecret = Hooks.createAndBind(server, staging, "git@github.com:" + REPO + ".git", "staging");
        String after = commit("staging");

        TestServer.Response toStaging = deliver(server, "push", newDelivery(), push(REPO, "refs/heads/staging", after),
                stagingSecret);
        TestServer.Response toProduction = deliver(server, "push", newDelivery(),
                push(REPO, "refs/heads/staging", after), production.secret());

        assertThat(toStaging.status()).isEqualTo(202);
        assertThat(toStaging.json().get("project").asText()).isEqualTo(staging);
        assertThat(toProduction.json().get("outcome").asText()).as("production deploys main only").isEqualTo("ignored");
        assertThat(deploys(server, production.project())).isEmpty();
        awaitDeployEnded(server, staging, toStaging.json().get("deploy_id").asText());
    }

    @Test
    void every_delivery_is_audited_with_its_id_and_no_key() {
        Bound b = bound();
        String pushed = newDelivery();
        String ignored = newDelivery();
        TestServer.Response answer = deliver(server, "push", pushed, push(REPO, "refs/heads/main", commit("a")),
                b.secret());
        deliver(server, "push", ignored, push(REPO, "refs/heads/dev", commit("b")), b.secret());

        JsonNode events = server.get("/audit_events", server.adminKey()).json().get("events");

        assertThat(events).anySatisfy(e -> {
            assertThat(e.get("action").asText()).isEqualTo("webhook.push");
            assertThat(e.get("resource").asText()).isEqualTo("project:" + b.project() + "/delivery:" + pushed + "/"
                    + answer.json().get("deploy_id").asText());
            assertThat(e.get("actor_key_id").isNull()).isTrue();
        });
        assertThat(events).anySatisfy(e -> {
            assertThat(e.get("action").asText()).isEqualTo("webhook.push");
            assertThat(e.get("resource").asText()).isEqualTo("project:" + b.project() + "/delivery:" + ignored);
        });
        assertThat(Hooks.projectLog(server, b.project())).anySatisfy(line -> assertThat(line)
                .contains("delivery " + ignored, "does not deploy"));
    }

    @Test
    void a_push_while_a_build_runs_is_queued_and_the_newest_one_supersedes_older_queued_ones() {
        Bound b = bound();
        String first = commit("first");
        String second = commit("second");
        String third = commit("third");
        CountDownLatch held = github.gate(first);
        try {
            String building = deliver(server, "push", newDelivery(), push(REPO, "refs/heads/main", first), b.secret())
                    .json().get("deploy_id").asText();
            awaitStatus(server, b.project(), building, "building");
            String queued = deliver(server, "push", newDelivery(), push(REPO, "refs/heads/main", second), b.secret())
                    .json().get("deploy_id").asText();
            String newest = deliver(server, "push", newDelivery(), push(REPO, "refs/heads/main", third), b.secret())
                    .json().get("deploy_id").asText();

            assertThat(awaitStatus(server, b.project(), queued, "superseded").get("error").asText())
                    .contains(newest);
            held.countDown();
            assertThat(awaitDeployEnded(server, b.project(), building).get("status").asText()).isEqualTo("succeeded");
            assertThat(awaitDeployEnded(server, b.project(), newest).get("status").asText()).isEqualTo("succeeded");
        } finally {
            held.countDown();
        }
        JsonNode releases = Hooks.releases(server, b.project());
        assertThat(StreamSupport.stream(releases.spliterator(), false).map(r -> r.get("version").asText() + " "
                + r.get("commit_sha").asText())).containsExactly("v2 " + third, "v1 " + first);
        assertThat(server.get("/agent_projects/" + b.project(), server.adminKey()).json()
                .at("/current_release/commit_sha").asText()).isEqualTo(third);
    }

    @Test
    void the_raw_body_is_verified_even_past_the_json_request_limit(@TempDir Path otherData) throws Exception {
        try (TestServer big = Hooks.start(otherData, new Config.Repos(github.apiUrl(), null, List.of("ssh"), 4L << 20))) {
            String project = "big-payload";
            String secret = Hooks.createAndBind(big, project, REPO, null);
            String base = push(REPO, "refs/heads/main", commit("big"));
            // 1.5 MiB, past Javalin's 1 MB ctx.body() cap; non-ASCII so any re-encoding would break the HMAC.
            String padded = base.substring(0, base.length() - 1) + ",\"padding\":\"" + "é☃".repeat(300_000) + "\"}";
            byte[] body = padded.getBytes(StandardCharsets.UTF_8);
            assertThat(body.length).isGreaterThan(1 << 20);

            TestServer.Response answer = deliver(big, "push", newDelivery(), body, sign(secret, body));

            assertThat(answer.status()).as(answer.body()).isEqualTo(202);
            awaitDeployEnded(big, project, answer.json().get("deploy_id").asText());
        }
        assertThat(Files.exists(otherData.resolve("karta.db"))).isTrue();
    }
}
