package dev.karta.server.repos;

import static dev.karta.server.ingest.webhooks.Hooks.awaitDeployEnded;
import static dev.karta.server.ingest.webhooks.Hooks.deployCommit;
import static dev.karta.server.ingest.webhooks.Hooks.sha;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import dev.karta.server.ingest.webhooks.Hooks;
import dev.karta.server.testkit.TestServer;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The operator's GitHub token is sent only for the owners the operator listed ({@code acme}
 * here, see {@link Hooks#start}); any other binding is fetched with its own token or anonymously,
 * so a tenant cannot deploy another owner's private repository with the operator's access.
 */
class GitHubTokenTest {
    private static final String OPERATOR_TOKEN = "ghs_operator" + "0".repeat(24);

    @TempDir
    static Path dataDir;
    static FakeGitHub github;
    static TestServer server;

    @BeforeAll
    static void start() {
        github = FakeGitHub.start();
        server = Hooks.start(dataDir, github, OPERATOR_TOKEN);
    }

    @AfterAll
    static void stop() {
        server.close();
        github.close();
    }

    private static JsonNode deploy(String project, String sha) {
        TestServer.Response accepted = deployCommit(server, project, sha);
        assertThat(accepted.status()).as(accepted.body()).isEqualTo(202);
        return awaitDeployEnded(server, project, accepted.json().get("deploy_id").asText());
    }

    private static List<String> authorizationsFor(String repo) {
        return github.seen().stream().filter(s -> s.host().equals("api") && s.path().contains("/" + repo + "/"))
                .map(s -> String.valueOf(s.authorization())).toList();
    }

    @Test
    void the_operator_token_is_not_sent_for_an_owner_the_operator_did_not_list() {
        github.commit("victim-org/private-repo", sha(1), "victim").makePrivate("victim-org/private-repo",
                OPERATOR_TOKEN);
        Hooks.createAndBind(server, "deputy", "https://github.com/victim-org/private-repo", null);

        JsonNode failed = deploy("deputy", sha(1));

        assertThat(failed.get("status").asText()).isEqualTo("failed");
        assertThat(authorizationsFor("private-repo")).isNotEmpty().containsOnly("null");
    }

    @Test
    void the_operator_token_is_sent_for_a_listed_owner_whatever_the_case() {
        github.commit("ACME/listed", sha(2), "listed").makePrivate("ACME/listed", OPERATOR_TOKEN);
        Hooks.createAndBind(server, "listed", "ACME/listed", null);

        JsonNode ended = deploy("listed", sha(2));

        assertThat(ended.get("status").asText()).as(ended.toString()).isEqualTo("succeeded");
        assertThat(authorizationsFor("listed")).isNotEmpty().containsOnly("Bearer " + OPERATOR_TOKEN);
    }

    @Test
    void a_token_with_a_space_or_a_control_character_inside_is_400() {
        server.post("/agent_projects", server.adminKey(), "{\"name\":\"odd-token\"}");

        for (String token : new String[] {"tok en", "tok\\u0000en", "tok\\nen", "  "}) {
            TestServer.Response refused = Hooks.bind(server, server.adminKey(), "odd-token",
                    "{\"url\":\"other/odd\",\"token\":\"" + token + "\"}");
            assertThat(refused.status()).as(token).isEqualTo(400);
        }
        TestServer.Response padded = Hooks.bind(server, server.adminKey(), "odd-token",
                "{\"url\":\"other/odd\",\"token\":\" tok-123\\n\"}");
        assertThat(padded.status()).as(padded.body()).isEqualTo(200);
    }

    @Test
    void a_bindings_own_token_is_sent_for_that_binding_only_and_never_shown() {
        github.commit("other/with-token", sha(3), "own").makePrivate("other/with-token", "tok-own-123");
        github.commit("other/without-token", sha(4), "anon");
        server.post("/agent_projects", server.adminKey(), "{\"name\":\"own-token\"}");
        TestServer.Response bound = Hooks.bind(server, server.adminKey(), "own-token",
                "{\"url\":\"other/with-token\",\"token\":\"tok-own-123\"}");
        Hooks.createAndBind(server, "no-token", "other/without-token", null);

        JsonNode withToken = deploy("own-token", sha(3));
        JsonNode without = deploy("no-token", sha(4));

        assertThat(bound.status()).as(bound.body()).isEqualTo(200);
        assertThat(bound.json().get("credentials").asBoolean()).isTrue();
        assertThat(bound.body()).doesNotContain("tok-own-123");
        assertThat(withToken.get("status").asText()).as(withToken.toString()).isEqualTo("succeeded");
        assertThat(without.get("status").asText()).as(without.toString()).isEqualTo("succeeded");
        assertThat(authorizationsFor("with-token")).isNotEmpty().containsOnly("Bearer tok-own-123");
        assertThat(authorizationsFor("without-token")).isNotEmpty().containsOnly("null");
        assertThat(server.get("/agent_projects/own-token/repo", server.adminKey()).body()).doesNotContain("tok-own-123");
    }

    @Test
    void a_token_in_a_github_url_becomes_the_bindings_token_and_leaves_the_url() {
        github.commit("other/url-token", sha(5), "url").makePrivate("other/url-token", "tok-in-url");

        Hooks.createAndBind(server, "url-token", "https://x:tok-in-url@github.com/other/url-token", null);
        JsonNode ended = deploy("url-token", sha(5));

        TestServer.Response shown = server.get("/agent_projects/url-token/repo", server.adminKey());
        assertThat(shown.json().at("/repo/url").asText()).isEqualTo("https://github.com/other/url-token");
        assertThat(shown.json().get("source").asText()).isEqualTo("github");
        assertThat(ended.get("status").asText()).as(ended.toString()).isEqualTo("succeeded");
        assertThat(authorizationsFor("url-token")).isNotEmpty().containsOnly("Bearer tok-in-url");
    }
}
