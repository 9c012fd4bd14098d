package dev.karta.server.sessions;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.karta.server.Config;
import dev.karta.server.process.Sandbox;
import dev.karta.server.testkit.TestServer.Response;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A harness turn gets the config vars of the release its session is pinned to, as environment
 * variables, under Karta's own: a later config change (a new release) reaches new sessions only.
 */
class SessionConfigTest {
    private static final String KEY = "sk-ant-" + "k3y".repeat(10);

    @TempDir
    Path dir;
    private SessionFixture f;

    @AfterEach
    void stop() {
        if (f != null) {
            f.close();
        }
    }

    private void set(String project, String body) {
        Response r = f.server.patch("/agent_projects/" + project + "/config", f.writer, body);
        assertThat(r.status()).as(r.body()).isEqualTo(200);
    }

    @Test
    void a_session_gets_its_release_config_and_keeps_it_after_a_change() {
        f = SessionFixture.start(dir);
        f.publish("app", SessionFixture.claudeApp("hello"));
        set("app", "{\"set\":{\"ANTHROPIC_API_KEY\":\"" + KEY + "\",\"EMPTY\":\"\",\"DATABASE_URL\":"
                + "\"postgres://app:pw@db.example.com/app\"}}");
        String pinned = f.open("app");

        assertThat(f.ask("app", pinned, "getenv:ANTHROPIC_API_KEY")).isEqualTo(KEY);
        assertThat(f.ask("app", pinned, "getenv:EMPTY")).isEmpty();
        assertThat(f.ask("app", pinned, "getenv:DATABASE_URL"))
                .as("the tenant's own database URL is its business").isEqualTo("postgres://app:pw@db.example.com/app");

        set("app", "{\"set\":{\"ANTHROPIC_API_KEY\":\"rotated\"}}");
        assertThat(f.ask("app", pinned, "getenv:ANTHROPIC_API_KEY")).as("pinned to v2").isEqualTo(KEY);
        String fresh = f.open("app");
        assertThat(f.ask("app", fresh, "getenv:ANTHROPIC_API_KEY")).isEqualTo("rotated");

        set("app", "{\"unset\":[\"ANTHROPIC_API_KEY\"]}");
        assertThat(f.ask("app", f.open("app"), "getenv:ANTHROPIC_API_KEY")).isEqualTo("<unset>");
        f.rollback("app", "v2");
        assertThat(f.ask("app", f.open("app"), "getenv:ANTHROPIC_API_KEY")).as("rolled back with v2")
                .isEqualTo(KEY);
        assertThat(f.server.get("/agent_projects/app/logs?limit=1000", f.admin).body()).doesNotContain(KEY);
    }

    @Test
    void karta_own_variables_win_over_config() {
        Map<String, String> operator = new LinkedHashMap<>();
        f = SessionFixture.start(dir, s -> {
            operator.putAll(s.harnessEnvironment());
            operator.put("PROXY_URL", "http://operator-proxy:3128");
            return new Config.SessionSettings(s.claudeExecutable(), s.opencodeExecutable(), s.idleTimeout(),
                    s.turnTimeout(), s.maxConcurrentTurns(), s.maxMessageBytes(), s.maxTurnOutputBytes(), operator);
        }, 0);
        f.publish("app", SessionFixture.claudeApp("hello"));
        set("app", "{\"set\":{\"PROXY_URL\":\"tenant\",\"MODEL\":\"opus\"}}");
        String session = f.open("app");

        assertThat(f.ask("app", session, "getenv:PROXY_URL")).isEqualTo("http://operator-proxy:3128");
        assertThat(f.ask("app", session, "getenv:MODEL")).isEqualTo("opus");
    }

    @Test
    void config_reaches_a_sandboxed_harness() {
        f = SessionFixture.start(dir, s -> s, 0, Sandbox.Settings.DEFAULTS);
        assumeTrue("bwrap".equals(f.server.get("/healthz", null).json().get("sandbox").asText()),
                "bubblewrap is installed (CI installs it)");
        f.publish("boxed", SessionFixture.claudeApp("hello"));
        set("boxed", "{\"set\":{\"ANTHROPIC_API_KEY\":\"" + KEY + "\"}}");
        String session = f.open("boxed");

        assertThat(f.ask("boxed", session, "getenv:ANTHROPIC_API_KEY")).isEqualTo(KEY);
        assertThat(f.ask("boxed", session, "getenv:HOME")).isEqualTo("/home/karta");
    }
}
