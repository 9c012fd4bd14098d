package dev.karta.server.builds;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import dev.karta.server.testkit.TarBuilder;
import dev.karta.server.testkit.TestDatabase;
import dev.karta.server.testkit.TestServer;
import java.net.http.HttpRequest;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code [build] env} in {@code karta.toml}: the image builder gets exactly the config vars it
 * names, their values are masked in the build log, a name the project has no var for is a
 * warning, and a malformed list fails the build with a message saying what is wrong.
 */
class BuildEnvTest {
    private static final String TOKEN = "npm_" + "T0k".repeat(10);

    @TempDir
    Path dir;
    private TestServer server;
    private Path seen;

    @BeforeEach
    void start() {
        seen = dir.resolve("seen");
        // The builder records what it got, and prints the token (which the log must mask).
        List<String> builder = List.of("sh", "-c", "printf 'NPM_TOKEN=%s OTHER=%s' \"$NPM_TOKEN\" \"${OTHER-unset}\" "
                + "> \"$0\"; echo \"token is $NPM_TOKEN\"", seen.toString());
        server = TestServer.start(TestDatabase.sqlite().config(dir.resolve("data"), TestServer.randomKey()).toBuilder()
                .builderCommand(builder).build());
    }

    @AfterEach
    void stop() {
        server.close();
    }

    @Test
    void the_builder_gets_the_vars_karta_toml_names_and_the_log_masks_them() throws Exception {
        assertThat(server.post("/agent_projects", server.adminKey(), "{\"name\":\"npm\"}").status()).isEqualTo(201);
        assertThat(server.patch("/agent_projects/npm/config", server.adminKey(),
                "{\"set\":{\"NPM_TOKEN\":\"" + TOKEN + "\",\"OTHER\":\"not-for-builds\"}}").status()).isEqualTo(200);

        JsonNode deploy = publish("npm", "[build]\nenv = [\"NPM_TOKEN\", \"MISSING_TOKEN\"]\n");

        assertThat(deploy.get("status").asText()).isEqualTo("succeeded");
        assertThat(Files.readString(seen)).isEqualTo("NPM_TOKEN=" + TOKEN + " OTHER=unset");
        String log = buildLog("npm", deploy.get("id").asText());
        assertThat(log).contains("builder: token is ***")
                .contains("build.env names MISSING_TOKEN, which is not a config var of this project")
                .contains("Passing config vars to the builder: NPM_TOKEN")
                .doesNotContain(TOKEN);
    }

    @Test
    void without_build_env_the_builder_gets_no_config() throws Exception {
        server.post("/agent_projects", server.adminKey(), "{\"name\":\"plain\"}");
        server.patch("/agent_projects/plain/config", server.adminKey(), "{\"set\":{\"NPM_TOKEN\":\"" + TOKEN + "\"}}");

        JsonNode deploy = publish("plain", "colour = \"blue\"\n");

        assertThat(deploy.get("status").asText()).isEqualTo("succeeded");
        assertThat(Files.readString(seen)).isEqualTo("NPM_TOKEN= OTHER=unset");
        assertThat(buildLog("plain", deploy.get("id").asText()))
                .contains("unknown key 'colour' ignored (known: build, buildpack, entry_point)");
    }

    @Test
    void malformed_build_env_fails_the_build_and_says_why() {
        JsonNode notArray = publish("bad", "[build]\nenv = \"NPM_TOKEN\"\n");
        assertThat(notArray.get("status").asText()).isEqualTo("failed");
        assertThat(notArray.get("error").asText()).contains("'build.env' must be an array of config var names");

        JsonNode badName = publish("bad", "[build]\nenv = [\"npm-token\"]\n");
        assertThat(badName.get("error").asText()).contains("'build.env' holds 'npm-token', which is not a config var name");

        JsonNode notTable = publish("bad", "build = 3\n");
        assertThat(notTable.get("error").asText()).contains("'build' must be a table");

        JsonNode unknown = publish("bad", "[build]\nenv = []\nsteps = 2\n");
        assertThat(unknown.get("status").asText()).isEqualTo("succeeded");
        assertThat(buildLog("bad", unknown.get("id").asText())).contains("unknown key 'build.steps' ignored");
    }

    private JsonNode publish(String project, String toml) {
        byte[] app = new TarBuilder().file("Dockerfile", "FROM scratch\n").file("CLAUDE.md", "# app\n")
                .file("karta.toml", toml).build();
        TestServer.Response accepted = server.send(server.request("/agent_projects/" + project + "/releases",
                        server.adminKey()).header("Content-Type", "application/gzip")
                .POST(HttpRequest.BodyPublishers.ofByteArray(app)));
        assertThat(accepted.status()).as(accepted.body()).isEqualTo(202);
        String id = accepted.json().get("id").asText();
        JsonNode[] last = new JsonNode[1];
        await().atMost(Duration.ofSeconds(30)).until(() -> {
            last[0] = server.get("/agent_projects/" + project + "/deploys/" + id, server.adminKey()).json();
            return !last[0].get("status").asText().matches("queued|building");
        });
        return last[0];
    }

    private String buildLog(String project, String deployId) {
        StringBuilder out = new StringBuilder();
        server.get("/agent_projects/" + project + "/logs?limit=1000", server.adminKey()).json().get("entries")
                .forEach(e -> {
                    if (deployId.equals(e.path("deploy_id").asText())) {
                        out.append(e.get("message").asText()).append('\n');
                    }
                });
        return out.toString();
    }
}
