package dev.karta.server.ci;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.karta.server.Config;
import dev.karta.server.testkit.LocalOidcIssuer;
import dev.karta.server.testkit.TestServer;
import dev.karta.server.testkit.TestServer.Response;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Keyless CI's time-bound rules, each on a server of its own with short settings: keys expire,
 * a rotated issuer key is picked up, refused exchanges are throttled per address, and the issuer's
 * key set is fetched with a size cap, with or without a discovery document.
 */
class KeylessCiLimitsTest {
    @TempDir
    Path dir;
    LocalOidcIssuer issuer = new LocalOidcIssuer();
    TestServer server;
    String audience;

    TestServer start(Config.Oidc oidc) {
        server = TestServer.start(TestServer.config(dir, TestServer.randomKey()).toBuilder()
                .oidc(oidc.withGithubIssuer(issuer.url())).build());
        audience = "http://127.0.0.1:" + server.port();
        assertThat(server.post("/agent_projects", server.adminKey(), "{\"name\":\"shop\"}").status()).isEqualTo(201);
        assertThat(server.post("/agent_projects/shop/ci_trusts", server.adminKey(),
                "{\"repository\":\"acme/shop-agent\",\"ref\":\"refs/heads/main\"}").status()).isEqualTo(201);
        return server;
    }

    @AfterEach
    void stop() {
        if (server != null) {
            server.close();
        }
        issuer.close();
    }

    Response exchange(String token) {
        return server.post("/oidc/github/token", null, "{\"token\":\"" + token + "\",\"project\":\"shop\"}");
    }

    @Test
    void an_exchanged_key_stops_working_when_it_expires() {
        start(Config.Oidc.DEFAULTS.withLimits(Duration.ofSeconds(2), Duration.ofMinutes(1), 20));
        Response key = exchange(issuer.token(audience, c -> { }));
        assertThat(key.status()).as(key.body()).isEqualTo(201);
        String secret = key.json().get("secret").asText();
        assertThat(server.get("/agent_projects/shop", secret).status()).isEqualTo(200);
        await().atMost(Duration.ofSeconds(10)).until(() -> server.get("/agent_projects/shop", secret).status() == 401);
    }

    @Test
    void a_rotated_issuer_key_is_fetched_when_a_token_names_it() {
        start(Config.Oidc.DEFAULTS);
        assertThat(exchange(issuer.token(audience, c -> { })).status()).isEqualTo(201);
        assertThat(issuer.jwksFetches()).isEqualTo(1);
        assertThat(exchange(issuer.token(audience, c -> { })).status()).isEqualTo(201);
        assertThat(issuer.jwksFetches()).as("the key set is cached").isEqualTo(1);
        issuer.rotate();
        Response rotated = exchange(issuer.token(audience, c -> { }));
        assertThat(rotated.status()).as(rotated.body()).isEqualTo(201);
        assertThat(issuer.jwksFetches()).isEqualTo(2);
    }

    @Test
    void refused_exchanges_are_throttled_per_address() {
        start(Config.Oidc.DEFAULTS.withLimits(Duration.ofMinutes(15), Duration.ofMinutes(1), 3));
        for (int i = 0; i < 3; i++) {
            assertThat(exchange(issuer.token("https://elsewhere.example", c -> { })).status()).isEqualTo(401);
        }
        Response throttled = exchange(issuer.token(audience, c -> { }));
        assertThat(throttled.status()).as(throttled.body()).isEqualTo(429);
        assertThat(throttled.header("Retry-After")).isNotNull();
        assertThat(Long.parseLong(throttled.header("Retry-After"))).isBetween(1L, 60L);
        Response otherProject = server.post("/oidc/github/token", null, "{\"token\":\""
                + issuer.token(audience, c -> { }) + "\",\"project\":\"elsewhere\"}");
        assertThat(otherProject.status()).as("another project's window: %s", otherProject.body()).isEqualTo(403);
    }

    @Test
    void keys_are_found_without_a_discovery_document_and_an_oversized_key_set_is_refused() {
        issuer.discovery = false;
        start(Config.Oidc.DEFAULTS);
        Response exchanged = exchange(issuer.token(audience, c -> { }));
        assertThat(exchanged.status()).as(exchanged.body()).isEqualTo(201);

        LocalOidcIssuer bloated = new LocalOidcIssuer();
        bloated.jwksPadding = 300 << 10;
        try (TestServer other = TestServer.start(TestServer.config(dir.resolve("other"), TestServer.randomKey())
                .toBuilder().oidc(Config.Oidc.DEFAULTS.withGithubIssuer(bloated.url())).build())) {
            other.post("/agent_projects", other.adminKey(), "{\"name\":\"big\"}");
            other.post("/agent_projects/big/ci_trusts", other.adminKey(),
                    "{\"repository\":\"acme/shop-agent\",\"ref\":\"refs/heads/main\"}");
            Response refused = other.post("/oidc/github/token", null, "{\"token\":\""
                    + bloated.token("http://127.0.0.1:" + other.port(), c -> { }) + "\",\"project\":\"big\"}");
            assertThat(refused.status()).as(refused.body()).isEqualTo(503);
            assertThat(refused.json().get("message").asText()).contains("is larger than " + (256 << 10) + " bytes");
        } finally {
            bloated.close();
        }
    }

    @Test
    void an_unreachable_issuer_is_a_503_not_a_refusal() {
        issuer.close();
        start(Config.Oidc.DEFAULTS);
        Response answer = exchange(issuer.token(audience, c -> { }));
        assertThat(answer.status()).as(answer.body()).isEqualTo(503);
        assertThat(answer.json().get("message").asText()).contains("could not be fetched");
    }
}
