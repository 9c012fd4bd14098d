package dev.karta.server.releases;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import dev.karta.server.testkit.EachDatabase;
import dev.karta.server.testkit.TarBuilder;
import dev.karta.server.testkit.TestDatabase;
import dev.karta.server.testkit.TestServer;
import java.net.http.HttpRequest;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.Parameter;
import org.junit.jupiter.params.ParameterizedClass;
import org.junit.jupiter.params.provider.ArgumentsSource;

@ParameterizedClass(name = "on {0}")
@ArgumentsSource(EachDatabase.class)
class ReleaseFlowTest {
    @Parameter
    TestDatabase database;
    @TempDir
    Path dataDir;

    private TestServer server;
    private Publisher publisher;

    @BeforeEach
    void start() {
        server = database.start(dataDir);
        publisher = new Publisher(server);
    }

    @AfterEach
    void stop() {
        server.close();
    }

    private static List<String> statuses(JsonNode releases) {
        List<String> out = new ArrayList<>();
        releases.forEach(r -> out.add(r.get("version").asText() + ":" + r.get("status").asText()));
        return out;
    }

    @Test
    void publish_then_publish_then_rollback_moves_the_pointer_and_never_renumbers() {
        JsonNode first = publisher.publish("shop", TarBuilder.app("one"));
        assertThat(first.get("status").asText()).isEqualTo("succeeded");
        assertThat(first.get("release").asText()).isEqualTo("v1");
        assertThat(statuses(publisher.releases("shop"))).containsExactly("v1:active");

        publisher.publish("shop", TarBuilder.app("two"));
        assertThat(statuses(publisher.releases("shop"))).containsExactly("v2:active", "v1:superseded");

        TestServer.Response rollback = server.post("/agent_projects/shop/rollback", server.adminKey(), "{\"to\":\"v1\"}");
        assertThat(rollback.status()).isEqualTo(200);
        assertThat(rollback.json().get("active").asText()).isEqualTo("v1");
        assertThat(rollback.json().get("previous").asText()).isEqualTo("v2");
        assertThat(statuses(publisher.releases("shop"))).containsExactly("v2:superseded", "v1:active");
        assertThat(publisher.active("shop")).isEqualTo("v1");

        TestServer.Response forward = server.post("/agent_projects/shop/rollback", server.adminKey(), "{\"to\":\"2\"}");
        assertThat(forward.json().get("active").asText()).isEqualTo("v2");
        assertThat(publisher.releases("shop")).hasSize(2);
    }

    @Test
    void release_records_what_was_built() {
        JsonNode deploy = publisher.publish("shop", TarBuilder.app("one"));
        JsonNode release = server.get("/agent_projects/shop/releases/v1", server.adminKey()).json();

        assertThat(release.get("number").asInt()).isEqualTo(1);
        assertThat(release.get("harness").asText()).isEqualTo("claude");
        assertThat(release.get("build_kind").asText()).isEqualTo("file_copy");
        assertThat(release.get("source").asText()).isEqualTo("upload");
        assertThat(release.get("deploy_id").asText()).isEqualTo(deploy.get("id").asText());
        assertThat(release.get("content_digest").asText()).matches("sha256:[0-9a-f]{64}");
        assertThat(release.get("image_ref").asText()).contains("shop@sha256:");
        assertThat(release.get("commit_sha").asText()).isEqualTo(release.get("content_digest").asText().substring(7));
        assertThat(release.get("created_at").asText()).endsWith("Z");
        assertThat(release.get("activated_at").isNull()).isFalse();
    }

    @Test
    void upload_with_a_commit_header_records_that_commit() {
        TestServer.Response accepted = publisher.upload("shop", TarBuilder.app("one"), server.adminKey(),
                "X-Karta-Commit", "1A2B3C4D5E6F");
        publisher.awaitEnd("shop", accepted.json().get("id").asText());

        assertThat(server.get("/agent_projects/shop", server.adminKey()).json().get("current_release")
                .get("commit_sha").asText()).isEqualTo("1a2b3c4d5e6f");
    }

    @Test
    void failed_builds_use_up_no_version_number_and_change_nothing_that_serves() {
        publisher.publish("shop", TarBuilder.app("one"));
        JsonNode failed = publisher.publish("shop", new TarBuilder().file("CLAUDE.md", "x")
                .file("karta.toml", "entry_point = [1, 2\n").build());

        assertThat(failed.get("status").asText()).isEqualTo("failed");
        assertThat(failed.get("error").asText()).contains("karta.toml").contains("line");
        assertThat(failed.get("release").isNull()).isTrue();
        assertThat(publisher.active("shop")).isEqualTo("v1");

        publisher.publish("shop", TarBuilder.app("three"));
        assertThat(statuses(publisher.releases("shop"))).containsExactly("v2:active", "v1:superseded");
    }

    @Test
    void a_karta_toml_with_a_wrong_type_fails_the_build_with_the_reason() {
        JsonNode failed = publisher.publish("shop", new TarBuilder().file("CLAUDE.md", "x")
                .file("karta.toml", "buildpack = 3\n").build());

        assertThat(failed.get("error").asText()).contains("'buildpack' must be a string");
    }

    @Test
    void unknown_karta_toml_keys_are_warned_about_in_the_build_log() {
        JsonNode deploy = publisher.publish("shop", new TarBuilder().file("CLAUDE.md", "x")
                .file("karta.toml", "colour = \"blue\"\n").build());

        assertThat(deploy.get("status").asText()).isEqualTo("succeeded");
        assertThat(buildLog(deploy.get("id").asText())).contains("unknown key 'colour'");
    }

    @Test
    void dockerfile_app_without_a_builder_runs_as_file_copy_and_the_log_says_so() {
        JsonNode deploy = publisher.publish("shop", new TarBuilder().file("Dockerfile", "FROM scratch\n")
                .file(".opencode/agent.md", "x").build());
        JsonNode release = server.get("/agent_projects/shop/releases/v1", server.adminKey()).json();

        assertThat(release.get("build_kind").asText()).isEqualTo("dockerfile");
        assertThat(release.get("harness").asText()).isEqualTo("opencode");
        assertThat(buildLog(deploy.get("id").asText())).contains("running this dockerfile release as file_copy");
    }

    @Test
    void the_same_tree_and_kind_give_the_same_image_ref() {
        publisher.publish("shop", TarBuilder.app("same"));
        publisher.publish("shop", TarBuilder.app("same"));
        JsonNode releases = publisher.releases("shop");

        assertThat(releases.get(0).get("image_ref").asText()).isEqualTo(releases.get(1).get("image_ref").asText());
        assertThat(releases.get(0).get("content_digest").asText())
                .isEqualTo(releases.get(1).get("content_digest").asText());
    }

    @Test
    void first_upload_to_an_unknown_name_creates_the_project() {
        assertThat(server.get("/agent_projects/fresh-app", server.adminKey()).status()).isEqualTo(404);

        publisher.publish("fresh-app", TarBuilder.app("one"));

        assertThat(server.get("/agent_projects/fresh-app", server.adminKey()).status()).isEqualTo(200);
    }

    @Test
    void a_hostile_archive_is_refused_before_anything_is_queued() {
        TestServer.Response refused = publisher.upload("shop", new TarBuilder().file("../evil", "x").build(),
                server.adminKey());

        assertThat(refused.status()).isEqualTo(422);
        assertThat(refused.json().get("error").asText()).isEqualTo("path_traversal");
        assertThat(server.get("/agent_projects/shop", server.adminKey()).status()).isEqualTo(404);
    }

    @Test
    void upload_answers_415_for_a_non_gzip_content_type_and_400_for_a_bad_commit() {
        TestServer.Response wrongType = server.send(server.request("/agent_projects/shop/releases", server.adminKey())
                .header("Content-Type", "text/plain").POST(HttpRequest.BodyPublishers.ofString("x")));
        TestServer.Response badCommit = publisher.upload("shop", TarBuilder.app("x"), server.adminKey(),
                "X-Karta-Commit", "not-a-sha");

        assertThat(wrongType.status()).isEqualTo(415);
        assertThat(badCommit.status()).isEqualTo(400);
        assertThat(badCommit.json().get("message").asText()).contains("X-Karta-Commit");
    }

    @Test
    void rollback_to_an_unknown_version_is_404_and_to_the_active_one_only_pins() {
        publisher.publish("shop", TarBuilder.app("one"));

        TestServer.Response unknown = server.post("/agent_projects/shop/rollback", server.adminKey(), "{\"to\":\"v9\"}");
        TestServer.Response same = server.post("/agent_projects/shop/rollback", server.adminKey(), "{\"to\":\"v1\"}");
        TestServer.Response again = server.post("/agent_projects/shop/rollback", server.adminKey(), "{\"to\":\"v1\"}");
        TestServer.Response garbage = server.post("/agent_projects/shop/rollback", server.adminKey(), "{\"to\":\"latest\"}");

        assertThat(unknown.status()).isEqualTo(404);
        assertThat(same.status()).isEqualTo(200);
        assertThat(same.json().get("active").asText()).isEqualTo("v1");
        assertThat(same.json().get("previous").asText()).isEqualTo("v1");
        assertThat(same.json().get("pinned").get("version").asText()).isEqualTo("v1");
        assertThat(again.body()).isEqualTo(same.body());
        assertThat(garbage.status()).isEqualTo(400);
        long rollbacks = server.get("/audit_events", server.adminKey()).json().get("events").findValuesAsText("action")
                .stream().filter("release.rollback"::equals).count();
        assertThat(rollbacks).as("the pin, once; the repeat changes nothing").isEqualTo(1);
    }

    @Test
    void a_version_has_one_spelling_without_leading_zeros() {
        publisher.publish("shop", TarBuilder.app("one"));

        assertThat(server.get("/agent_projects/shop/releases/v1", server.adminKey()).status()).isEqualTo(200);
        assertThat(server.get("/agent_projects/shop/releases/1", server.adminKey()).status()).isEqualTo(200);
        for (String spelling : List.of("v01", "01", "v001", "V1", "v+1", "v 1", "vv1")) {
            TestServer.Response show = server.get("/agent_projects/shop/releases/"
                    + spelling.replace(" ", "%20").replace("+", "%2B"), server.adminKey());
            TestServer.Response rollback = server.post("/agent_projects/shop/rollback", server.adminKey(),
                    "{\"to\":\"" + spelling + "\"}");
            assertThat(show.status()).as(spelling).isEqualTo(400);
            assertThat(show.json().get("message").asText()).as(spelling).contains("use v3 or 3");
            assertThat(rollback.status()).as(spelling).isEqualTo(400);
        }
    }

    @Test
    void publish_needs_write_and_rollback_needs_admin() {
        publisher.publish("shop", TarBuilder.app("one"));
        String read = server.createKey("reader", "read");
        String write = server.createKey("writer", "write");

        assertThat(publisher.upload("shop", TarBuilder.app("two"), read).status()).isEqualTo(403);
        assertThat(publisher.upload("shop", TarBuilder.app("two"), null).status()).isEqualTo(401);
        assertThat(publisher.upload("shop", TarBuilder.app("two"), write).status()).isEqualTo(202);
        assertThat(server.post("/agent_projects/shop/rollback", write, "{\"to\":\"v1\"}").status()).isEqualTo(403);
        assertThat(server.get("/agent_projects/shop/releases", read).status()).isEqualTo(200);
    }

    @Test
    void another_orgs_project_is_not_found_and_its_name_cannot_be_taken_by_publishing() {
        publisher.publish("shop", TarBuilder.app("one"));
        String other = server.createOrg("acme");

        assertThat(server.get("/agent_projects/shop/releases", other).status()).isEqualTo(404);
        assertThat(server.post("/agent_projects/shop/rollback", other, "{\"to\":\"v1\"}").status()).isEqualTo(404);
        assertThat(publisher.upload("shop", TarBuilder.app("mine"), other).status()).isEqualTo(409);
        assertThat(publisher.active("shop")).isEqualTo("v1");
    }

    @Test
    void a_retry_with_the_same_idempotency_key_returns_the_first_answer_and_queues_nothing() {
        byte[] archive = TarBuilder.app("one");
        TestServer.Response first = publisher.upload("shop", archive, server.adminKey(), "Idempotency-Key", "k-1");
        TestServer.Response retry = publisher.upload("shop", archive, server.adminKey(), "Idempotency-Key", "k-1");
        TestServer.Response different = publisher.upload("shop", TarBuilder.app("two"), server.adminKey(),
                "Idempotency-Key", "k-1");

        assertThat(retry.status()).isEqualTo(202);
        assertThat(retry.json().get("id").asText()).isEqualTo(first.json().get("id").asText());
        assertThat(different.status()).isEqualTo(422);
        publisher.awaitEnd("shop", first.json().get("id").asText());
        assertThat(server.get("/agent_projects/shop/deploys", server.adminKey()).json().get("deploys")).hasSize(1);
    }

    @Test
    void a_rollback_retried_with_the_same_idempotency_key_is_not_repeated() {
        publisher.publish("shop", TarBuilder.app("one"));
        publisher.publish("shop", TarBuilder.app("two"));
        var request = server.request("/agent_projects/shop/rollback", server.adminKey())
                .header("Content-Type", "application/json").header("Idempotency-Key", "rb-1")
                .POST(HttpRequest.BodyPublishers.ofString("{\"to\":\"v1\"}"));

        TestServer.Response first = server.send(request);
        server.post("/agent_projects/shop/rollback", server.adminKey(), "{\"to\":\"v2\"}");
        TestServer.Response retry = server.send(request);

        assertThat(retry.body()).isEqualTo(first.body());
        assertThat(retry.header("Idempotent-Replayed")).isEqualTo("true");
        assertThat(publisher.active("shop")).isEqualTo("v2");
    }

    @Test
    void concurrent_publishes_get_contiguous_numbers_and_exactly_one_active() throws Exception {
        int count = 8;
        ExecutorService pool = Executors.newFixedThreadPool(count);
        try {
            List<Future<JsonNode>> results = new ArrayList<>();
            for (int i = 0; i < count; i++) {
                byte[] archive = TarBuilder.app("concurrent " + i);
                results.add(pool.submit(() -> publisher.publish("shop", archive)));
            }
            for (Future<JsonNode> result : results) {
                assertThat(result.get().get("status").asText()).isIn("succeeded", "superseded");
            }
        } finally {
            pool.shutdownNow();
        }
        JsonNode releases = publisher.releases("shop");
        Set<Integer> numbers = new TreeSet<>();
        releases.forEach(r -> numbers.add(r.get("number").asInt()));
        int released = releases.size();
        assertThat(released).isGreaterThanOrEqualTo(1);
        assertThat(numbers).containsExactlyElementsOf(java.util.stream.IntStream.rangeClosed(1, released).boxed().toList());
        assertThat(statuses(releases).stream().filter(s -> s.endsWith(":active"))).hasSize(1);
        assertThat(publisher.active("shop")).isEqualTo("v" + released);
    }

    @Test
    void deploys_list_newest_first_with_their_fields() {
        publisher.publish("shop", TarBuilder.app("one"));
        publisher.publish("shop", TarBuilder.app("two"));
        JsonNode deploys = server.get("/agent_projects/shop/deploys", server.adminKey()).json().get("deploys");

        assertThat(deploys).hasSize(2);
        assertThat(deploys.get(0).get("release").asText()).isEqualTo("v2");
        JsonNode d = deploys.get(1);
        for (String field : List.of("id", "project", "commit_sha", "source", "status", "release", "error",
                "created_at", "started_at", "finished_at")) {
            assertThat(d.has(field)).as(field).isTrue();
        }
        assertThat(d.get("id").asText()).startsWith("dep_");
        assertThat(server.get("/agent_projects/shop/deploys/dep_nope", server.adminKey()).status()).isEqualTo(404);
    }

    @Test
    void activation_and_rollback_are_audited() {
        publisher.publish("shop", TarBuilder.app("one"));
        publisher.publish("shop", TarBuilder.app("two"));
        server.post("/agent_projects/shop/rollback", server.adminKey(), "{\"to\":\"v1\"}");

        List<String> actions = server.get("/audit_events", server.adminKey()).json().get("events")
                .findValuesAsText("action");
        assertThat(actions).contains("deploy.create", "release.activate", "release.rollback");
    }

    private String buildLog(String deployId) {
        TestServer.Response stream = server.send(server.request("/agent_projects/shop/deploys/" + deployId + "/logs",
                server.adminKey()).header("Accept", "text/event-stream").GET());
        return stream.body();
    }
}
