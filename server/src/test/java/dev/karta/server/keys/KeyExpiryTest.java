package dev.karta.server.keys;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import dev.karta.server.store.Database;
import dev.karta.server.testkit.EachDatabase;
import dev.karta.server.testkit.TestDatabase;
import dev.karta.server.testkit.TestServer;
import dev.karta.server.testkit.TestServer.Response;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.Parameter;
import org.junit.jupiter.params.ParameterizedClass;
import org.junit.jupiter.params.provider.ArgumentsSource;

/**
 * Keys with an expiry: {@code expires_at} on creation, in listings and {@code /whoami}; the rules
 * for its value; and an expired key refused at once, even one the server had just cached (the
 * cache here trusts a key for an hour, so only the expiry can explain the refusal).
 */
@ParameterizedClass(name = "on {0}")
@ArgumentsSource(EachDatabase.class)
class KeyExpiryTest {
    @Parameter
    TestDatabase database;

    @TempDir
    Path dataDir;
    TestServer server;

    @BeforeEach
    void start() {
        server = TestServer.start(database.configure(dataDir, TestServer.config(dataDir, TestServer.randomKey())
                .toBuilder().keyCacheTtl(Duration.ofHours(1))).build());
    }

    @AfterEach
    void stop() {
        server.close();
    }

    private Response create(String body) {
        return server.post("/api_keys", server.adminKey(), body);
    }

    @Test
    void a_key_with_an_expiry_shows_it_on_creation_in_the_listing_and_in_whoami() {
        Instant at = Instant.now().plus(90, ChronoUnit.DAYS).truncatedTo(ChronoUnit.SECONDS);
        Response created = create("{\"name\":\"ci\",\"scopes\":[\"write\"],\"expires_at\":\"" + at + "\"}");

        assertThat(created.status()).as(created.body()).isEqualTo(201);
        JsonNode key = created.json().get("api_key");
        assertThat(Instant.parse(key.get("expires_at").asText())).isEqualTo(at);
        assertThat(key.get("last_used_at").isNull()).isTrue();
        assertThat(key.get("project").isNull()).isTrue();
        String id = key.get("id").asText();
        JsonNode listed = keyInListing(id);
        assertThat(Instant.parse(listed.get("expires_at").asText())).isEqualTo(at);
        assertThat(listed.has("last_used_at")).isTrue();
        assertThat(listed.get("project").isNull()).isTrue();

        JsonNode me = server.get("/whoami", created.json().get("secret").asText()).json().get("key");
        assertThat(Instant.parse(me.get("expires_at").asText())).isEqualTo(at);
        assertThat(me.get("project").isNull()).isTrue();
        JsonNode admin = server.get("/whoami", server.adminKey()).json().get("key");
        assertThat(admin.get("expires_at").isNull()).isTrue();
    }

    @Test
    void an_expiry_offset_from_utc_is_read_as_that_instant() {
        Response created = create("{\"name\":\"ci\",\"scopes\":[\"read\"],\"expires_at\":\"2030-01-01T02:00:00+02:00\"}");

        assertThat(created.status()).as(created.body()).isEqualTo(201);
        assertThat(created.json().at("/api_key/expires_at").asText()).isEqualTo("2030-01-01T00:00:00Z");
    }

    @Test
    void expires_at_must_be_an_rfc_3339_time() {
        Response bad = create("{\"name\":\"ci\",\"scopes\":[\"read\"],\"expires_at\":\"next tuesday\"}");

        assertThat(bad.status()).isEqualTo(400);
        assertThat(bad.json().get("message").asText()).contains("RFC 3339").contains("next tuesday");
    }

    @Test
    void expires_at_in_the_past_is_refused() {
        Response past = create("{\"name\":\"ci\",\"scopes\":[\"read\"],\"expires_at\":\"2020-01-01T00:00:00Z\"}");

        assertThat(past.status()).isEqualTo(422);
        assertThat(past.json().get("message").asText()).contains("not in the future");
    }

    @Test
    void expires_at_more_than_five_years_ahead_is_refused() {
        Instant tooFar = Instant.now().plus(KeyRoutes.MAX_LIFETIME).plus(1, ChronoUnit.DAYS);
        Response far = create("{\"name\":\"ci\",\"scopes\":[\"read\"],\"expires_at\":\"" + tooFar + "\"}");
        Instant justIn = Instant.now().plus(KeyRoutes.MAX_LIFETIME).minus(1, ChronoUnit.HOURS);
        Response near = create("{\"name\":\"ci\",\"scopes\":[\"read\"],\"expires_at\":\"" + justIn + "\"}");

        assertThat(far.status()).isEqualTo(422);
        assertThat(far.json().get("message").asText()).contains("1826 days");
        assertThat(near.status()).as(near.body()).isEqualTo(201);
    }

    @Test
    void an_expired_key_is_refused_at_once_even_though_it_was_cached_just_before() {
        Instant at = Instant.now().plusMillis(1500);
        Response created = create("{\"name\":\"brief\",\"scopes\":[\"read\"],\"expires_at\":\"" + at + "\"}");
        String secret = created.json().get("secret").asText();
        String id = created.json().at("/api_key/id").asText();
        assertThat(server.get("/agent_projects", secret).status()).isEqualTo(200); // validated, now cached

        await().atMost(Duration.ofSeconds(10)).pollInterval(Duration.ofMillis(20))
                .until(() -> !Instant.now().isBefore(at));
        Response after = server.get("/agent_projects", secret);

        assertThat(after.status()).isEqualTo(401);
        assertThat(after.json().get("error").asText()).isEqualTo("unauthorized");
        assertThat(after.json().get("message").asText()).contains(id).contains("expired at " + created.json()
                .at("/api_key/expires_at").asText());
        assertThat(server.get("/agent_projects", secret).json().get("message").asText()).contains("expired at");
        assertThat(server.get("/agent_projects", server.adminKey()).status()).isEqualTo(200);
        assertThat(keyInListing(id).get("revoked_at").isNull()).as("expired, not revoked").isTrue();
    }

    @Test
    void an_expired_key_is_refused_when_checked_afresh() {
        Response created = create("{\"name\":\"stale\",\"scopes\":[\"read\"],\"expires_at\":\"2030-01-01T00:00:00Z\"}");
        String secret = created.json().get("secret").asText();
        String id = created.json().at("/api_key/id").asText();
        try (Database db = server.openDatabase()) {
            db.execute("UPDATE api_keys SET expires_at = ? WHERE id = ?", Instant.now().minusSeconds(60).toEpochMilli(), id);
        }

        Response refused = server.get("/whoami", secret);

        assertThat(refused.status()).isEqualTo(401);
        assertThat(refused.json().get("message").asText()).contains(id).contains("expired at");
    }

    @Test
    void last_used_at_is_written_once_for_two_requests_within_a_minute() {
        Response created = create("{\"name\":\"busy\",\"scopes\":[\"read\"]}");
        String secret = created.json().get("secret").asText();
        String id = created.json().at("/api_key/id").asText();
        assertThat(lastUsed(id)).isNull();
        assertThat(server.get("/agent_projects", secret).status()).isEqualTo(200);
        await().atMost(Duration.ofSeconds(10)).until(() -> lastUsed(id) != null);
        long first = lastUsed(id);

        assertThat(server.get("/agent_projects", secret).status()).isEqualTo(200);
        // Uses are written in order by one background thread: once a later key's use is written,
        // a write for the second request would be too.
        Response marker = create("{\"name\":\"marker\",\"scopes\":[\"read\"]}");
        assertThat(server.get("/whoami", marker.json().get("secret").asText()).status()).isEqualTo(200);
        await().atMost(Duration.ofSeconds(10)).until(() -> lastUsed(marker.json().at("/api_key/id").asText()) != null);

        assertThat(lastUsed(id)).isEqualTo(first);
        assertThat(Instant.parse(keyInListing(id).get("last_used_at").asText()).toEpochMilli()).isEqualTo(first);
    }

    private Long lastUsed(String id) {
        try (Database db = server.openDatabase()) {
            return db.withHandle(h -> h.createQuery("SELECT last_used_at FROM api_keys WHERE id = :id")
                    .bind("id", id).mapTo(Long.class).one());
        }
    }

    private JsonNode keyInListing(String id) {
        for (JsonNode key : server.get("/api_keys", server.adminKey()).json().get("api_keys")) {
            if (key.get("id").asText().equals(id)) {
                return key;
            }
        }
        throw new AssertionError("key " + id + " is not listed");
    }
}
