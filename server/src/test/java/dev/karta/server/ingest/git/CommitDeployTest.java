package dev.karta.server.ingest.git;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import dev.karta.server.testkit.TestServer;
import java.io.IOException;
import java.net.http.HttpRequest;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import org.eclipse.jgit.lib.CommitBuilder;
import org.eclipse.jgit.lib.ObjectId;
import org.eclipse.jgit.lib.ObjectInserter;
import org.eclipse.jgit.lib.PersonIdent;
import org.eclipse.jgit.lib.RefUpdate;
import org.eclipse.jgit.lib.Repository;
import org.eclipse.jgit.storage.file.FileRepositoryBuilder;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** {@code POST /agent_projects/{p}/deploys {"commit_sha"}}: deploy any commit the project's repository holds. */
class CommitDeployTest {
    @TempDir
    static Path shared;
    static GitFixture karta;
    static GitFixture.Key writer;
    static Path app;
    static String first;
    static String feature;

    @BeforeAll
    static void start() {
        karta = GitFixture.start(shared);
        writer = karta.createKey("ci", "write");
        app = karta.newApp(shared.resolve("app"));
        first = karta.head(app);
        karta.git(app, "push", karta.remote("shop", writer.secret()), "main").ok();
        karta.git(app, "checkout", "-q", "-b", "feature").ok();
        GitFixture.write(app.resolve("CLAUDE.md"), "# Feature\n");
        feature = karta.commitAll(app, "feature");
        karta.git(app, "push", karta.remote("shop", writer.secret()), "feature").ok();
    }

    @AfterAll
    static void stop() {
        karta.close();
    }

    private TestServer.Response deploy(String project, String body) {
        return karta.post("/agent_projects/" + project + "/deploys", writer.secret(), body);
    }

    @Test
    void a_short_sha_is_resolved_and_that_commit_released() {
        TestServer.Response accepted = deploy("shop", "{\"commit_sha\":\"" + feature.substring(0, 7) + "\"}");

        assertThat(accepted.status()).as(accepted.body()).isEqualTo(202);
        JsonNode body = accepted.json();
        assertThat(body.get("accepted").asBoolean()).isTrue();
        assertThat(body.get("project").asText()).isEqualTo("shop");
        assertThat(body.get("commit_sha").asText()).isEqualTo(feature);
        JsonNode ended = karta.awaitDeployEnded("shop", body.get("deploy_id").asText());
        assertThat(ended.get("status").asText()).as(ended.toString()).isEqualTo("succeeded");
        assertThat(ended.get("source").asText()).isEqualTo("deploy");
        JsonNode release = karta.releases("shop").get(0);
        assertThat(release.get("commit_sha").asText()).isEqualTo(feature);
        assertThat(release.get("source").asText()).isEqualTo("deploy");
    }

    @Test
    void a_full_sha_deploys_that_commit() {
        TestServer.Response accepted = deploy("shop", "{\"commit_sha\":\"" + first.toUpperCase() + "\"}");

        assertThat(accepted.status()).as(accepted.body()).isEqualTo(202);
        assertThat(accepted.json().get("commit_sha").asText()).isEqualTo(first);
        JsonNode ended = karta.awaitDeployEnded("shop", accepted.json().get("deploy_id").asText());
        assertThat(ended.get("status").asText()).isEqualTo("succeeded");
        assertThat(ended.get("commit_sha").asText()).isEqualTo(first);
    }

    @Test
    void an_unknown_sha_is_422_saying_how_to_push_it() {
        TestServer.Response refused = deploy("shop", "{\"commit_sha\":\"abc1\"}");

        assertThat(refused.status()).isEqualTo(422);
        assertThat(refused.json().get("error").asText()).isEqualTo("unknown_commit");
        assertThat(refused.json().get("message").asText())
                .isEqualTo("commit abc1 is not in shop's repository: git push karta <branch> first "
                        + "(pushes to 'main' also deploy)");
    }

    @Test
    void a_project_nothing_was_pushed_to_has_no_commits() {
        assertThat(karta.post("/agent_projects", writer.secret(), "{\"name\":\"unpushed\"}").status()).isEqualTo(201);

        TestServer.Response refused = deploy("unpushed", "{\"commit_sha\":\"" + first + "\"}");

        assertThat(refused.status()).isEqualTo(422);
        assertThat(refused.json().get("message").asText()).startsWith("commit " + first + " is not in unpushed's");
    }

    @Test
    void an_ambiguous_sha_is_422() throws IOException {
        String prefix = twoCommitsSharingAPrefix();
        karta.git(app, "push", karta.remote("shop", writer.secret()), "twin-a", "twin-b").ok();

        TestServer.Response refused = deploy("shop", "{\"commit_sha\":\"" + prefix + "\"}");

        assertThat(refused.status()).as(refused.body()).isEqualTo(422);
        assertThat(refused.json().get("error").asText()).isEqualTo("ambiguous_commit");
        assertThat(refused.json().get("message").asText()).contains("is ambiguous in shop's repository",
                "give more hex digits");
    }

    @ParameterizedTest
    @ValueSource(strings = {"{}", "{\"commit_sha\":null}", "{\"commit_sha\":\"abc\"}", "{\"commit_sha\":\"xyz1234\"}",
            "{\"commit_sha\":12345}", "{\"commit_sha\":\"0123456789012345678901234567890123456789a\"}", "[]",
            "\"abcd\"", "{\"commit_sha\":"})
    void a_malformed_body_is_400(String body) {
        TestServer.Response refused = deploy("shop", body);

        assertThat(refused.status()).as(refused.body()).isEqualTo(400);
        assertThat(refused.json().get("message").asText()).isNotBlank();
    }

    @Test
    void an_unknown_project_is_404_and_a_read_key_is_403() {
        assertThat(deploy("nope", "{\"commit_sha\":\"" + first + "\"}").status()).isEqualTo(404);
        GitFixture.Key reader = karta.createKey("reader", "read");
        assertThat(karta.post("/agent_projects/shop/deploys", reader.secret(), "{\"commit_sha\":\"" + first + "\"}")
                .status()).isEqualTo(403);
    }

    @Test
    void a_retry_with_the_same_idempotency_key_returns_the_first_answer() {
        int before = karta.deploys("shop").size();
        String body = "{\"commit_sha\":\"" + first.substring(0, 10) + "\"}";
        TestServer.Response firstAnswer = karta.send(karta.request("/agent_projects/shop/deploys", writer.secret())
                .header("Content-Type", "application/json").header("Idempotency-Key", "ci-run-42")
                .POST(HttpRequest.BodyPublishers.ofString(body)));
        TestServer.Response retry = karta.send(karta.request("/agent_projects/shop/deploys", writer.secret())
                .header("Content-Type", "application/json").header("Idempotency-Key", "ci-run-42")
                .POST(HttpRequest.BodyPublishers.ofString(body)));

        assertThat(firstAnswer.status()).isEqualTo(202);
        assertThat(retry.status()).isEqualTo(202);
        assertThat(retry.header("Idempotent-Replayed")).isEqualTo("true");
        assertThat(retry.json().get("deploy_id").asText()).isEqualTo(firstAnswer.json().get("deploy_id").asText());
        assertThat(karta.deploys("shop")).hasSize(before + 1);
        karta.awaitDeployEnded("shop", firstAnswer.json().get("deploy_id").asText());
        JsonNode release = karta.releases("shop").get(0);
        assertThat(release.get("trigger").asText()).isEqualTo("deploy");
        assertThat(release.get("idempotency_key").asText()).isEqualTo("ci-run-42");
    }

    /** Writes commits into the app's repository until two share 4 hex digits; branches twin-a and twin-b. */
    private static String twoCommitsSharingAPrefix() throws IOException {
        try (Repository repo = new FileRepositoryBuilder().setGitDir(app.resolve(".git").toFile()).build();
             ObjectInserter inserter = repo.newObjectInserter()) {
            ObjectId tree = repo.resolve("HEAD^{tree}");
            PersonIdent ident = new PersonIdent("Karta Test", "test@karta.invalid");
            Map<String, ObjectId> seen = new HashMap<>();
            for (int i = 0; ; i++) {
                CommitBuilder commit = new CommitBuilder();
                commit.setTreeId(tree);
                commit.setAuthor(ident);
                commit.setCommitter(ident);
                commit.setMessage("attempt " + i);
                ObjectId id = inserter.insert(commit);
                ObjectId twin = seen.putIfAbsent(id.name().substring(0, 4), id);
                if (twin != null) {
                    inserter.flush();
                    branch(repo, "twin-a", twin);
                    branch(repo, "twin-b", id);
                    return id.name().substring(0, 4);
                }
            }
        }
    }

    private static void branch(Repository repo, String name, ObjectId id) throws IOException {
        RefUpdate update = repo.updateRef("refs/heads/" + name);
        update.setNewObjectId(id);
        assertThat(update.update()).isIn(RefUpdate.Result.NEW, RefUpdate.Result.FORCED);
    }
}
