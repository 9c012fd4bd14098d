package dev.karta.server.keys;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.karta.server.testkit.PostgresDatabase;
import dev.karta.server.testkit.PostgresExtension;
import dev.karta.server.testkit.TestServer;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

/**
 * Two servers on one PostgreSQL: a key revoked through one is refused by the other at once, even
 * though the other had validated it and caches validated keys (here for an hour, so only the
 * announcement of the revocation can explain the refusal).
 */
@ExtendWith(PostgresExtension.class)
class RevocationAcrossServersTest {
    @TempDir
    Path dir;

    @Test
    void a_key_revoked_on_one_server_is_refused_by_another_that_had_it_cached(PostgresDatabase postgres) {
        String admin = TestServer.randomKey();
        try (TestServer revoking = TestServer.start(TestServer.config(dir.resolve("a"), admin).toBuilder()
                .databaseUrl(postgres.url()).build());
             TestServer caching = TestServer.start(TestServer.config(dir.resolve("b"), admin).toBuilder()
                     .databaseUrl(postgres.url()).keyCacheTtl(Duration.ofHours(1)).build())) {
            String secret = revoking.createKey("short-lived", "read");
            TestServer.Response before = caching.get("/whoami", secret);
            assertThat(before.status()).isEqualTo(200);
            String id = before.json().get("key").get("id").asText();
            await().until(() -> caching.server().logWakeups().listening());

            assertThat(revoking.delete("/api_keys/" + id, admin).status()).isBetween(200, 204);

            await().atMost(Duration.ofSeconds(2)).pollInterval(Duration.ofMillis(10))
                    .until(() -> caching.get("/whoami", secret).status() == 401);
            assertThat(caching.get("/whoami", admin).status()).isEqualTo(200);
        }
    }
}
