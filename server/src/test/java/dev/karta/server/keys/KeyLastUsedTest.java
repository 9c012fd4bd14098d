package dev.karta.server.keys;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.karta.server.Config;
import dev.karta.server.audit.AuditLog;
import dev.karta.server.orgs.Tenants;
import dev.karta.server.store.Database;
import dev.karta.server.testkit.EachDatabase;
import dev.karta.server.testkit.ManualClock;
import dev.karta.server.testkit.TestDatabase;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.Parameter;
import org.junit.jupiter.params.ParameterizedClass;
import org.junit.jupiter.params.provider.ArgumentsSource;

/**
 * {@code last_used_at} is written at most once a minute per key, however many servers share the
 * database: two servers ({@link ApiKeys} on one database, each with its own memory) using one key
 * within a minute write it once.
 */
@ParameterizedClass(name = "on {0}")
@ArgumentsSource(EachDatabase.class)
class KeyLastUsedTest {
    @Parameter
    TestDatabase database;

    @TempDir
    Path dataDir;
    Database db;
    final ManualClock clock = new ManualClock();

    @BeforeEach
    void open() {
        String url = database.url(dataDir);
        db = Database.open(url == null ? Config.sqliteUrl(dataDir) : url);
    }

    @AfterEach
    void close() {
        db.close();
    }

    private ApiKeys server() {
        return new ApiKeys(db, new AuditLog(db), Duration.ofSeconds(5), Config.Limits.DEFAULTS, clock);
    }

    private Long lastUsed(String prefix) {
        return db.withHandle(h -> h.createQuery("SELECT last_used_at FROM api_keys WHERE prefix = :p")
                .bind("p", prefix).mapTo(Long.class).one());
    }

    @Test
    void two_servers_using_a_key_within_a_minute_write_last_used_at_once() {
        ApiKeys one = server();
        ApiKeys two = server();
        String secret = new Tenants(db, one, new AuditLog(db)).create("acme", null).adminSecret();
        String prefix = KeySecret.prefix(secret);
        Instant start = clock.instant();

        one.authenticate(secret);
        await().atMost(Duration.ofSeconds(10)).until(() -> one.touchesDone() == 1);
        clock.advance(Duration.ofSeconds(30));
        one.authenticate(secret);
        two.authenticate(secret);
        await().atMost(Duration.ofSeconds(10)).until(() -> two.touchesDone() == 1);

        assertThat(lastUsed(prefix)).isEqualTo(start.toEpochMilli());
        assertThat(one.touchesDone()).as("the first server remembers its write of this minute").isEqualTo(1);
        assertThat(one.touchWrites() + two.touchWrites()).isEqualTo(1);

        clock.advance(Duration.ofSeconds(61));
        two.authenticate(secret);
        await().atMost(Duration.ofSeconds(10)).until(() -> two.touchesDone() == 2);

        assertThat(lastUsed(prefix)).isEqualTo(start.plusSeconds(91).toEpochMilli());
        assertThat(two.touchWrites()).isEqualTo(1);
    }
}
