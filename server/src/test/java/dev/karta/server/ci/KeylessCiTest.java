package dev.karta.server.ci;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import com.nimbusds.jose.jwk.RSAKey;
import dev.karta.server.Config;
import dev.karta.server.store.Database;
import dev.karta.server.testkit.EachDatabase;
import dev.karta.server.testkit.LocalOidcIssuer;
import dev.karta.server.testkit.TarBuilder;
import dev.karta.server.testkit.TestDatabase;
import dev.karta.server.testkit.TestServer;
import dev.karta.server.testkit.TestServer.Response;
import java.net.http.HttpRequest;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.Base64;
import java.util.Date;
import java.util.Map;
import java.util.function.Consumer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.AfterParameterizedClassInvocation;
import org.junit.jupiter.params.BeforeParameterizedClassInvocation;
import org.junit.jupiter.params.Parameter;
import org.junit.jupiter.params.ParameterizedClass;
import org.junit.jupiter.params.provider.ArgumentsSource;

/**
 * Keyless CI end to end, on SQLite and PostgreSQL: a real server trusting a stand-in GitHub issuer
 * on loopback. A trusted workflow's token becomes a write key that reaches only its project; every
 * broken token is refused with a 401 that names the failed check and never quotes the token; an
 * untrusted workflow gets the same 403 whether or not the project exists, in any org; trusts are
 * admin-only, held to the key's project, audited and gone with their project.
 */
@ParameterizedClass(name = "on {0}")
@ArgumentsSource(EachDatabase.class)
class KeylessCiTest {
    @Parameter
    TestDatabase database;

    @TempDir
    static Path temp;
    static LocalOidcIssuer issuer;
    static TestServer server;
    static String audience;
    static String strangerAdmin;

    @BeforeParameterizedClassInvocation
    static void start(TestDatabase database) {
        issuer = new LocalOidcIssuer();
        Path dir = temp.resolve(database.toString());
        Config config = database.configure(dir, TestServer.config(dir, TestServer.randomKey()).toBuilder()
                // Refusals are many here; their per-address limit is tested in KeylessCiLimitsTest.
                .oidc(Config.Oidc.DEFAULTS.withGithubIssuer(issuer.url()).withLimits(Duration.ofMinutes(15),
                        Duration.ofMinutes(1), 1000))
                .webhooks(Config.Webhooks.DEFAULTS.withAllowPrivate(true))).build();
        server = TestServer.start(config);
        audience = "http://127.0.0.1:" + server.port();
        for (String project : new String[] {"shop", "other", "untrusted"}) {
            Response created = server.post("/agent_projects", server.adminKey(), "{\"name\":\"" + project + "\"}");
            assertThat(created.status()).as(created.body()).isEqualTo(201);
        }
        Response trusted = trust("shop", server.adminKey(), "acme/shop-agent", "refs/heads/main", null);
        assertThat(trusted.status()).as(trusted.body()).isEqualTo(201);
        Response staging = trust("shop", server.adminKey(), "acme/shop-agent", "refs/heads/release", "Production");
        assertThat(staging.status()).as(staging.body()).isEqualTo(201);
        strangerAdmin = server.createOrg("stranger");
        Response theirs = server.post("/agent_projects", strangerAdmin, "{\"name\":\"theirs\"}");
        assertThat(theirs.status()).as(theirs.body()).isEqualTo(201);
    }

    @AfterParameterizedClassInvocation
    static void stop() {
        server.close();
        issuer.close();
    }

    static Response trust(String project, String key, String repository, String ref, String environment) {
        return server.post("/agent_projects/" + project + "/ci_trusts", key, "{\"repository\":\"" + repository
                + "\",\"ref\":\"" + ref + "\"" + (environment == null ? "" : ",\"environment\":\"" + environment + "\"")
                + "}");
    }

    static Response exchange(String token, String project) {
        return server.post("/oidc/github/token", null, "{\"token\":\"" + token + "\",\"project\":\"" + project + "\"}");
    }

    static String token(Consumer<com.nimbusds.jwt.JWTClaimsSet.Builder> change) {
        return issuer.token(audience, change);
    }

    static Response upload(String project, String key) {
        return server.send(server.request("/agent_projects/" + project + "/releases", key)
                .header("Content-Type", "application/gzip")
                .POST(HttpRequest.BodyPublishers.ofByteArray(TarBuilder.files(Map.of("CLAUDE.md", "# app\n")))));
    }

    @Test
    void a_trusted_workflow_gets_a_short_lived_write_key_that_deploys_only_its_project() {
        Instant before = Instant.now();
        Response answer = exchange(token(c -> { }), "shop");
        assertThat(answer.status()).as(answer.body()).isEqualTo(201);
        JsonNode body = answer.json();
        String secret = body.get("secret").asText();
        assertThat(secret).matches("kt_live_[A-Za-z0-9]{32}");
        assertThat(body.at("/api_key/project").asText()).isEqualTo("shop");
        assertThat(body.at("/api_key/scopes/0").asText()).isEqualTo("write");
        Instant expires = Instant.parse(body.get("expires_at").asText());
        assertThat(expires).isBetween(before.plus(Duration.ofMinutes(15)).minusSeconds(1),
                Instant.now().plus(Duration.ofMinutes(15)));
        assertThat(body.at("/api_key/expires_at").asText()).isEqualTo(body.get("expires_at").asText());

        Response deploy = upload("shop", secret);
        assertThat(deploy.status()).as(deploy.body()).isEqualTo(202);
        String deployId = deploy.json().get("id").asText();
        await().atMost(Duration.ofSeconds(60)).until(() -> server.get("/agent_projects/shop/deploys/" + deployId,
                secret).json().get("status").asText().equals("succeeded"));
        assertThat(upload("other", secret).status()).isEqualTo(404);
        assertThat(server.get("/agent_projects/other", secret).status()).isEqualTo(404);
        assertThat(server.get("/api_keys", secret).status()).isEqualTo(403);
        assertThat(server.post("/agent_projects/shop/rollback", secret, "{\"to\":\"v1\"}").status()).isEqualTo(403);
        assertThat(trust("shop", secret, "acme/evil", "refs/heads/main", null).status()).isEqualTo(403);

        String keyId = body.at("/api_key/id").asText();
        JsonNode events = server.get("/audit_events", server.adminKey()).json().get("events");
        JsonNode exchanged = null;
        for (JsonNode event : events) {
            if (event.get("action").asText().equals("ci.token") && keyId.equals(event.get("actor_key_id").asText())) {
                exchanged = event;
            }
        }
        assertThat(exchanged).as(events.toString()).isNotNull();
        assertThat(exchanged.get("resource").asText())
                .isEqualTo("project:shop/github:acme/shop-agent@refs/heads/main");
        assertThat(events.toString()).doesNotContain(secret);
    }

    @Test
    void an_exchanged_key_is_announced_to_key_created_subscribers() {
        Response endpoint = server.post("/webhook_endpoints", server.adminKey(),
                "{\"url\":\"http://127.0.0.1:9/hook\",\"events\":[\"key.created\"]}");
        assertThat(endpoint.status()).as(endpoint.body()).isEqualTo(201);
        Response key = exchange(token(c -> { }), "shop");
        assertThat(key.status()).as(key.body()).isEqualTo(201);
        String keyId = key.json().at("/api_key/id").asText();
        try (Database db = server.openDatabase()) {
            int events = db.withHandle(h -> h.createQuery("SELECT COUNT(*) FROM webhook_events WHERE type = 'key.created'"
                    + " AND payload LIKE :id").bind("id", "%" + keyId + "%").mapTo(Integer.class).one());
            assertThat(events).isEqualTo(1);
        } finally {
            String id = endpoint.json().at("/webhook_endpoint/id").asText();
            assertThat(server.delete("/webhook_endpoints/" + id, server.adminKey()).status()).isEqualTo(204);
        }
    }

    @Test
    void the_project_may_be_named_with_its_org_and_environments_must_match_when_the_trust_names_one() {
        assertThat(exchange(token(c -> { }), "default/shop").status()).isEqualTo(201);
        assertThat(exchange(token(c -> { }), "stranger/shop").status()).isEqualTo(403);
        // A trust without an environment takes any: a job in an environment still matches it.
        assertThat(exchange(token(c -> c.claim("environment", "preview")), "shop").status()).isEqualTo(201);
        // Trusted on refs/heads/release only in environment Production (names compare without case).
        Response release = exchange(token(c -> c.claim("ref", "refs/heads/release").claim("environment", "production")),
                "shop");
        assertThat(release.status()).as(release.body()).isEqualTo(201);
        Response noEnvironment = exchange(token(c -> c.claim("ref", "refs/heads/release")), "shop");
        assertThat(noEnvironment.status()).isEqualTo(403);
        assertThat(noEnvironment.json().get("message").asText()).contains("(no environment)");
        assertThat(exchange(token(c -> c.claim("ref", "refs/heads/release").claim("environment", "staging")), "shop")
                .status()).isEqualTo(403);
        // Repository names compare without case, as GitHub's do.
        assertThat(exchange(token(c -> c.claim("repository", "Acme/Shop-Agent")), "shop").status()).isEqualTo(201);
    }

    @Test
    void an_untrusted_workflow_learns_nothing_about_which_projects_exist() {
        String evil = token(c -> c.claim("repository", "evil/app"));
        Response untrusted = exchange(evil, "untrusted");
        Response missing = exchange(evil, "no-such-project");
        Response otherOrg = exchange(evil, "theirs");
        Response ownButOtherRepo = exchange(evil, "shop");
        for (Response r : new Response[] {untrusted, missing, otherOrg, ownButOtherRepo}) {
            assertThat(r.status()).as(r.body()).isEqualTo(403);
            assertThat(r.json().get("error").asText()).isEqualTo("not_trusted");
        }
        assertThat(missing.json().get("message").asText())
                .isEqualTo(otherOrg.json().get("message").asText().replace("'theirs'", "'no-such-project'")
                        .replace("trust theirs", "trust no-such-project"));
        assertThat(untrusted.json().get("message").asText()).isEqualTo("no CI trust of project 'untrusted' accepts "
                + "repository evil/app on refs/heads/main (no environment); an admin of the project can add one: "
                + "karta ci trust untrusted --github evil/app --ref refs/heads/main");
        assertThat(exchange(token(c -> c.claim("ref", "refs/heads/feature")), "shop").status()).isEqualTo(403);
        assertThat(exchange(token(c -> c.claim("ref", "refs/pull/7/merge")), "shop").status()).isEqualTo(403);
    }

    @Test
    void every_broken_token_is_refused_with_the_check_that_failed_and_never_echoed() {
        Instant now = Instant.now();
        assertRefused(token(c -> c.audience("https://elsewhere.example")), 401, "token audience is 'https://elsewhere.example'");
        assertRefused(token(c -> c.audience((String) null)), 401, "token audience is missing");
        assertRefused(token(c -> c.issuer("https://token.actions.githubusercontent.com")), 401, "token issuer is");
        assertRefused(token(c -> c.expirationTime(Date.from(now.minus(Duration.ofMinutes(5))))), 401, "token expired at");
        assertRefused(token(c -> c.expirationTime(null)), 401, "token has no expiry");
        assertRefused(token(c -> c.notBeforeTime(Date.from(now.plus(Duration.ofMinutes(10))))), 401,
                "token is not valid before");
        assertRefused(token(c -> c.claim("repository", null)), 401, "token has no repository claim");
        assertRefused(token(c -> c.claim("ref", null)), 401, "token has no ref claim");
        assertRefused(issuer.unsignedToken(audience), 401, "token is not signed (alg none)");
        assertRefused(issuer.hmacToken(audience, issuer.signingKey().toPublicJWK().toString()
                .getBytes(StandardCharsets.UTF_8)), 401, "token is signed with HS256; only RS256 is accepted");
        assertRefused("not-a-jwt", 401, "token is not a JWT");
        assertRefused("", 400, "token is required");

        // A valid token whose claims were changed after signing, and one whose signature was.
        String valid = token(c -> { });
        String[] parts = valid.split("\\.");
        String claims = new String(Base64.getUrlDecoder().decode(parts[1]), StandardCharsets.UTF_8);
        String forged = parts[0] + "." + Base64.getUrlEncoder().withoutPadding().encodeToString(
                claims.replace("acme/shop-agent", "acme/shop-agenx").getBytes(StandardCharsets.UTF_8)) + "." + parts[2];
        assertRefused(forged, 401, "token signature does not verify");
        char last = parts[2].charAt(10);
        String badSignature = parts[0] + "." + parts[1] + "." + parts[2].substring(0, 10) + (last == 'A' ? 'B' : 'A')
                + parts[2].substring(11);
        assertRefused(badSignature, 401, "token signature does not verify");

        // Signed by a key the issuer does not publish, with a known or an unknown key id.
        RSAKey stranger = LocalOidcIssuer.newKey();
        assertRefused(LocalOidcIssuer.sign(issuer.claims(audience).build(), stranger, issuer.signingKey().getKeyID()), 401,
                "token signature does not verify");
        assertRefused(LocalOidcIssuer.sign(issuer.claims(audience).build(), stranger, stranger.getKeyID()), 401,
                "which issuer " + issuer.url() + " does not publish");
    }

    @Test
    void unknown_key_ids_fetch_the_key_set_again_at_most_once_a_minute() {
        assertThat(exchange(token(c -> { }), "shop").status()).isEqualTo(201);
        int before = issuer.jwksFetches();
        for (int i = 0; i < 5; i++) {
            RSAKey stranger = LocalOidcIssuer.newKey();
            assertThat(exchange(LocalOidcIssuer.sign(issuer.claims(audience).build(), stranger, stranger.getKeyID()),
                    "shop").status()).isEqualTo(401);
        }
        assertThat(issuer.jwksFetches() - before).isLessThanOrEqualTo(1);
    }

    private static void assertRefused(String token, int status, String message) {
        Response refused = exchange(token, "shop");
        assertThat(refused.status()).as(refused.body()).isEqualTo(status);
        assertThat(refused.json().get("message").asText()).contains(message);
        if (!token.isEmpty()) {
            assertThat(refused.body()).doesNotContain(token);
            for (String part : token.split("\\.")) {
                if (part.length() > 8) {
                    assertThat(refused.body()).doesNotContain(part);
                }
            }
        }
    }

    @Test
    void trusts_are_admin_only_held_to_the_keys_project_and_validated() {
        String reader = server.createKey("ci-reader", "read");
        String writer = server.createKey("ci-writer", "write");
        Response otherAdmin = server.post("/api_keys", server.adminKey(),
                "{\"name\":\"other-admin\",\"scopes\":[\"admin\"],\"project\":\"other\"}");
        String otherProjectAdmin = otherAdmin.json().get("secret").asText();

        assertThat(server.get("/agent_projects/shop/ci_trusts", reader).status()).isEqualTo(200);
        assertThat(trust("shop", reader, "acme/x", "refs/heads/main", null).status()).isEqualTo(403);
        assertThat(trust("shop", writer, "acme/x", "refs/heads/main", null).status()).isEqualTo(403);
        assertThat(server.get("/agent_projects/shop/ci_trusts", otherProjectAdmin).status()).isEqualTo(404);
        assertThat(trust("shop", otherProjectAdmin, "acme/x", "refs/heads/main", null).status()).isEqualTo(404);
        assertThat(server.get("/agent_projects/shop/ci_trusts", strangerAdmin).status()).isEqualTo(404);
        assertThat(trust("shop", strangerAdmin, "acme/x", "refs/heads/main", null).status()).isEqualTo(404);

        Response created = trust("other", otherProjectAdmin, "https://github.com/Acme/Other", "refs/tags/v1.0", null);
        assertThat(created.status()).as(created.body()).isEqualTo(201);
        JsonNode trust = created.json();
        assertThat(trust.get("repository").asText()).isEqualTo("acme/other");
        assertThat(trust.get("ref").asText()).isEqualTo("refs/tags/v1.0");
        assertThat(trust.get("environment").isNull()).isTrue();
        assertThat(trust.get("project").asText()).isEqualTo("other");
        Response again = trust("other", server.adminKey(), "acme/other", "refs/tags/v1.0", null);
        assertThat(again.status()).isEqualTo(409);
        assertThat(again.json().get("message").asText()).contains("already trusts");

        assertThat(trust("other", server.adminKey(), "acme", "refs/heads/main", null).status()).isEqualTo(400);
        Response shortRef = trust("other", server.adminKey(), "acme/other", "main", null);
        assertThat(shortRef.status()).isEqualTo(400);
        assertThat(shortRef.json().get("message").asText()).contains("refs/heads/main");
        assertThat(trust("other", server.adminKey(), "acme/other", "refs/heads/*", null).status()).isEqualTo(400);
        assertThat(trust("other", server.adminKey(), "acme/other", "refs/heads/../x", null).status()).isEqualTo(400);
        assertThat(server.post("/agent_projects/other/ci_trusts", server.adminKey(),
                "{\"provider\":\"gitlab\",\"repository\":\"acme/other\",\"ref\":\"refs/heads/main\"}").status())
                .isEqualTo(400);

        JsonNode listed = server.get("/agent_projects/other/ci_trusts", server.adminKey()).json().get("ci_trusts");
        assertThat(listed).hasSize(1);
        String id = listed.get(0).get("id").asText();
        assertThat(server.delete("/agent_projects/shop/ci_trusts/" + id, server.adminKey()).status()).isEqualTo(404);
        assertThat(server.delete("/agent_projects/other/ci_trusts/" + id, writer).status()).isEqualTo(403);
        assertThat(server.delete("/agent_projects/other/ci_trusts/" + id, server.adminKey()).status()).isEqualTo(204);
        assertThat(server.get("/agent_projects/other/ci_trusts", server.adminKey()).json().get("ci_trusts")).isEmpty();
        assertThat(server.delete("/agent_projects/other/ci_trusts/" + id, server.adminKey()).status()).isEqualTo(404);

        String events = server.get("/audit_events", server.adminKey()).json().get("events").toString();
        assertThat(events).contains("\"ci.trust\"", "\"ci.untrust\"",
                "project:other/ci_trust:" + id + "/github:acme/other@refs/tags/v1.0");
    }

    @Test
    void a_deleted_project_takes_its_trusts_and_its_ci_keys_with_it() {
        assertThat(server.post("/agent_projects", server.adminKey(), "{\"name\":\"doomed\"}").status()).isEqualTo(201);
        assertThat(trust("doomed", server.adminKey(), "acme/doomed", "refs/heads/main", null).status()).isEqualTo(201);
        Response key = exchange(token(c -> c.claim("repository", "acme/doomed")), "doomed");
        assertThat(key.status()).as(key.body()).isEqualTo(201);
        String secret = key.json().get("secret").asText();
        assertThat(server.get("/agent_projects/doomed", secret).status()).isEqualTo(200);

        assertThat(server.delete("/agent_projects/doomed", server.adminKey()).status()).isEqualTo(204);
        try (Database db = server.openDatabase()) {
            int left = db.withHandle(h -> h.createQuery("SELECT COUNT(*) FROM ci_trusts WHERE repository = 'acme/doomed'")
                    .mapTo(Integer.class).one());
            assertThat(left).isZero();
        }
        assertThat(server.get("/agent_projects/doomed", secret).status()).isEqualTo(401);
        // Made again, the project trusts nothing: the old trust does not come back with its name.
        assertThat(server.post("/agent_projects", server.adminKey(), "{\"name\":\"doomed\"}").status()).isEqualTo(201);
        assertThat(exchange(token(c -> c.claim("repository", "acme/doomed")), "doomed").status()).isEqualTo(403);
    }
}
