package dev.karta.server.projects;

import static org.assertj.core.api.Assertions.assertThat;

import dev.karta.server.Config;
import dev.karta.server.testkit.EachDatabase;
import dev.karta.server.testkit.TarBuilder;
import dev.karta.server.testkit.TestDatabase;
import dev.karta.server.testkit.TestServer;
import dev.karta.server.testkit.TestServer.Response;
import java.io.IOException;
import java.net.http.HttpRequest;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.Parameter;
import org.junit.jupiter.params.ParameterizedClass;
import org.junit.jupiter.params.provider.ArgumentsSource;

/** An org has at most {@code --max-projects-per-org} projects, however they are created. */
@ParameterizedClass(name = "on {0}")
@ArgumentsSource(EachDatabase.class)
class ProjectQuotaTest {
    @Parameter
    TestDatabase database;
    @TempDir
    Path dataDir;
    TestServer server;

    @BeforeEach
    void start() {
        server = TestServer.start(database.config(dataDir, TestServer.randomKey())
                .withLimits(new Config.Limits(2, 100, 8, 50, 0, 5, 30)));
    }

    @AfterEach
    void stop() {
        server.close();
    }

    private Response create(String key, String name) {
        return server.post("/agent_projects", key, "{\"name\":\"" + name + "\"}");
    }

    @Test
    void a_project_over_the_org_limit_gets_429_with_retry_after_and_the_flag() {
        assertThat(create(server.adminKey(), "first").status()).isEqualTo(201);
        assertThat(create(server.adminKey(), "second").status()).isEqualTo(201);

        Response third = create(server.adminKey(), "third");

        assertThat(third.status()).as(third.body()).isEqualTo(429);
        assertThat(third.json().get("error").asText()).isEqualTo("too_many_requests");
        assertThat(third.json().get("message").asText()).contains("2 projects", "--max-projects-per-org",
                "delete a project");
        assertThat(Long.parseLong(third.headers().firstValue("Retry-After").orElseThrow())).isPositive();
        assertThat(server.get("/agent_projects/third", server.adminKey()).status()).isEqualTo(404);
    }

    @Test
    void a_first_publish_of_a_new_name_over_the_limit_gets_429_and_creates_nothing() throws IOException {
        create(server.adminKey(), "first");
        create(server.adminKey(), "second");

        Response upload = server.send(server.request("/agent_projects/third/releases", server.adminKey())
                .header("Content-Type", "application/gzip")
                .POST(HttpRequest.BodyPublishers.ofByteArray(TarBuilder.app("third"))));

        assertThat(upload.status()).as(upload.body()).isEqualTo(429);
        assertThat(upload.headers().firstValue("Retry-After")).isPresent();
        assertThat(server.get("/agent_projects/third", server.adminKey()).status()).isEqualTo(404);
        // Refused before the body was read: no archive was stored for it.
        Path artifacts = dataDir.resolve("artifacts");
        if (Files.exists(artifacts)) {
            try (Stream<Path> stored = Files.list(artifacts)) {
                assertThat(stored).isEmpty();
            }
        }
    }

    @Test
    void the_limit_counts_per_org_and_a_deleted_project_frees_its_slot() {
        create(server.adminKey(), "first");
        create(server.adminKey(), "second");
        String other = server.createOrg("other");

        assertThat(create(other, "theirs").status()).isEqualTo(201);
        assertThat(server.delete("/agent_projects/first", server.adminKey()).status()).isEqualTo(204);
        assertThat(create(server.adminKey(), "third").status()).isEqualTo(201);
    }
}
