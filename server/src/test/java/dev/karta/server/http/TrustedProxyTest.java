package dev.karta.server.http;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import dev.karta.server.Config;
import dev.karta.server.testkit.TestServer;
import dev.karta.server.testkit.TestServer.Response;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Behind a load balancer the operator trusts ({@code --trusted-proxy}), the client of a request is
 * the address the balancer puts in X-Forwarded-For: in the audit log, and in the window of failed
 * key checks, so that one guesser behind the balancer does not lock every other client out.
 */
class TrustedProxyTest {
    private static final Config.Limits TWO_FAILURES_PER_ADDRESS = new Config.Limits(
            Config.Limits.DEFAULTS.maxProjectsPerOrg(), Config.Limits.DEFAULTS.maxLiveSessionsPerOrg(),
            Config.Limits.DEFAULTS.maxTurnsPerOrg(), Config.Limits.DEFAULTS.maxQueuedDeploysPerOrg(),
            Config.Limits.DEFAULTS.maxBuildsPerOrg(), 100, 2);

    @TempDir
    Path dir;
    TestServer server;

    @AfterEach
    void stop() {
        server.close();
    }

    private void start(List<String> trustedProxies) {
        server = TestServer.start(TestServer.config(dir, TestServer.randomKey()).toBuilder()
                .trustedProxies(trustedProxies).limits(TWO_FAILURES_PER_ADDRESS).build());
    }

    @Test
    void behind_a_trusted_balancer_the_audit_log_names_the_forwarded_client() {
        start(List.of("127.0.0.1"));
        createProject("via-balancer", "198.51.100.4, 203.0.113.9");
        assertThat(auditedAddress("project:via-balancer")).isEqualTo("203.0.113.9");
    }

    @Test
    void a_forwarded_line_the_client_sent_before_the_balancers_own_is_not_believed() {
        start(List.of("127.0.0.1"));
        Response created = server.send(server.request("/agent_projects", server.adminKey())
                .header("Content-Type", "application/json")
                .header("X-Forwarded-For", "6.6.6.6") // what the client wrote
                .header("X-Forwarded-For", "203.0.113.9") // the line the balancer appended
                .POST(java.net.http.HttpRequest.BodyPublishers.ofString("{\"name\":\"two-lines\"}")));
        assertThat(created.status()).as(created.body()).isEqualTo(201);
        assertThat(auditedAddress("project:two-lines")).isEqualTo("203.0.113.9");
    }

    @Test
    void without_trust_a_forwarded_header_is_ignored() {
        start(List.of());
        createProject("not-trusted", "203.0.113.9");
        assertThat(auditedAddress("project:not-trusted")).isEqualTo("127.0.0.1");
    }

    @Test
    void one_guesser_behind_the_balancer_does_not_lock_out_other_clients() {
        start(List.of("127.0.0.1"));
        String fresh = server.createKey("fresh", "read");
        for (int i = 0; i < 3; i++) {
            Response guess = server.send(server.request("/agent_projects", wrong(fresh, i))
                    .header("X-Forwarded-For", "203.0.113.66"));
            assertThat(guess.status()).isEqualTo(401);
        }
        Response locked = server.send(server.request("/agent_projects", wrong(fresh, 3))
                .header("X-Forwarded-For", "203.0.113.66"));
        assertThat(locked.body()).contains("too many failed API key checks from 203.0.113.66");

        Response other = server.send(server.request("/agent_projects", fresh)
                .header("X-Forwarded-For", "203.0.113.7"));
        assertThat(other.status()).as(other.body()).isEqualTo(200);
    }

    /** {@code key} with its last characters changed: the same prefix, a wrong secret. */
    private static String wrong(String key, int n) {
        return key.substring(0, key.length() - 2) + (char) ('a' + n) + (char) ('a' + n);
    }

    private void createProject(String name, String forwardedFor) {
        Response created = server.send(server.request("/agent_projects", server.adminKey())
                .header("Content-Type", "application/json").header("X-Forwarded-For", forwardedFor)
                .POST(java.net.http.HttpRequest.BodyPublishers.ofString("{\"name\":\"" + name + "\"}")));
        assertThat(created.status()).as(created.body()).isEqualTo(201);
    }

    private String auditedAddress(String resource) {
        for (JsonNode event : server.get("/audit_events?limit=1000", server.adminKey()).json().get("events")) {
            if (event.get("resource").asText().equals(resource)) {
                return event.get("remote_ip").asText();
            }
        }
        throw new AssertionError("no audit event for " + resource);
    }
}
