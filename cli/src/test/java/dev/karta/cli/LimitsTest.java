package dev.karta.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Path;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A request over one of the org's limits (429) is a failure (exit 1) that says which limit. */
class LimitsTest {
    @TempDir
    Path home;
    FakeKarta fake;

    @BeforeEach
    void start() throws IOException {
        fake = new FakeKarta();
    }

    @AfterEach
    void stop() {
        fake.close();
    }

    @Test
    void a_project_over_the_org_limit_exits_1_with_the_servers_message() {
        fake.on("POST", "/agent_projects", (exchange, request) -> {
            exchange.getResponseHeaders().set("Retry-After", "3600");
            FakeKarta.json(exchange, 429, "{\"error\":\"too_many_requests\",\"message\":\"this org has its limit of "
                    + "2 projects (--max-projects-per-org): delete a project or ask the operator to raise the limit\"}");
        });

        Run.Result create = new Run(home).env("KARTA_SERVER", fake.url()).env("KARTA_API_KEY", TestServer.ADMIN_KEY)
                .run("projects", "create", "third");

        assertThat(create.exitCode()).isEqualTo(1);
        assertThat(create.stderr()).isEqualTo("karta: this org has its limit of 2 projects (--max-projects-per-org): "
                + "delete a project or ask the operator to raise the limit\n");
        assertThat(fake.requests("POST", "/agent_projects")).hasSize(1);
    }
}
