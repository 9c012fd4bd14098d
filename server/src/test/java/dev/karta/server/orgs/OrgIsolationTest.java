package dev.karta.server.orgs;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import dev.karta.server.testkit.EachDatabase;
import dev.karta.server.testkit.TestDatabase;
import dev.karta.server.testkit.TestServer;
import dev.karta.server.testkit.TestServer.Response;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.AfterParameterizedClassInvocation;
import org.junit.jupiter.params.BeforeParameterizedClassInvocation;
import org.junit.jupiter.params.Parameter;
import org.junit.jupiter.params.ParameterizedClass;
import org.junit.jupiter.params.provider.ArgumentsSource;

/** Tenants are isolated: another org's resources answer 404, and nothing of theirs is listed. */
@ParameterizedClass(name = "on {0}")
@ArgumentsSource(EachDatabase.class)
class OrgIsolationTest {
    @Parameter
    TestDatabase database;
    @TempDir
    static Path temp;
    static TestServer server;
    static String orgA;
    static String orgB;

    @BeforeParameterizedClassInvocation
    static void start(TestDatabase database) {
        server = database.startUnder(temp);
        orgA = server.adminKey();
        orgB = server.createOrg("org-b");
        assertThat(server.post("/agent_projects", orgA, "{\"name\":\"alpha-app\"}").status()).isEqualTo(201);
        assertThat(server.post("/agent_projects", orgB, "{\"name\":\"bravo-app\"}").status()).isEqualTo(201);
    }

    @AfterParameterizedClassInvocation
    static void stop() {
        server.close();
    }

    @Test
    void other_orgs_project_is_404() {
        Response response = server.get("/agent_projects/alpha-app", orgB);
        assertThat(response.status()).isEqualTo(404);
        assertThat(response.json().get("error").asText()).isEqualTo("not_found");
        assertThat(server.get("/agent_projects/alpha-app", orgA).status()).isEqualTo(200);
    }

    @Test
    void other_orgs_project_is_not_listed() {
        assertThat(names(server.get("/agent_projects", orgB).json().get("projects"), "name"))
                .contains("bravo-app").doesNotContain("alpha-app");
        assertThat(names(server.get("/agent_projects", orgA).json().get("projects"), "name"))
                .contains("alpha-app").doesNotContain("bravo-app");
    }

    @Test
    void other_orgs_project_cannot_be_deleted() {
        assertThat(server.delete("/agent_projects/alpha-app", orgB).status()).isEqualTo(404);
        assertThat(server.get("/agent_projects/alpha-app", orgA).status()).isEqualTo(200);
    }

    @Test
    void project_names_are_unique_across_orgs() {
        assertThat(server.post("/agent_projects", orgB, "{\"name\":\"alpha-app\"}").status()).isEqualTo(409);
        assertThat(server.get("/agent_projects/alpha-app", orgB).status()).isEqualTo(404);
    }

    @Test
    void other_orgs_key_cannot_be_revoked_or_listed() {
        String victim = server.createKey("victim-of-b", "read");
        String victimId = server.get("/whoami", victim).json().at("/key/id").asText();

        Response revoke = server.delete("/api_keys/" + victimId, orgB);
        assertThat(revoke.status()).isEqualTo(404);
        assertThat(revoke.json().get("error").asText()).isEqualTo("not_found");
        assertThat(server.get("/whoami", victim).status()).isEqualTo(200);

        assertThat(names(server.get("/api_keys", orgB).json().get("api_keys"), "id")).doesNotContain(victimId);
        assertThat(names(server.get("/api_keys", orgA).json().get("api_keys"), "id")).contains(victimId);
    }

    @Test
    void whoami_names_the_callers_org() {
        assertThat(server.get("/whoami", orgA).json().get("org").asText()).isEqualTo("default");
        assertThat(server.get("/whoami", orgB).json().get("org").asText()).isEqualTo("org-b");
    }

    @Test
    void audit_events_are_scoped_to_the_org() {
        List<String> resourcesOfB = names(server.get("/audit_events", orgB).json().get("events"), "resource");
        List<String> resourcesOfA = names(server.get("/audit_events", orgA).json().get("events"), "resource");

        assertThat(resourcesOfB).contains("project:bravo-app", "org:org-b").doesNotContain("project:alpha-app");
        assertThat(resourcesOfA).contains("project:alpha-app").doesNotContain("project:bravo-app", "org:org-b");
    }

    static List<String> names(JsonNode array, String field) {
        List<String> out = new ArrayList<>();
        array.forEach(item -> out.add(item.get(field).asText()));
        return out;
    }
}
