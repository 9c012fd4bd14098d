package dev.karta.server.keys;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import at.favre.lib.crypto.bcrypt.BCrypt;
import dev.karta.server.Config;
import dev.karta.server.audit.AuditLog;
import dev.karta.server.http.Actor;
import dev.karta.server.http.ApiError;
import dev.karta.server.http.Scope;
import dev.karta.server.orgs.Tenants;
import dev.karta.server.store.Database;
import dev.karta.server.testkit.ManualClock;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A good key is trusted for the cache time, then its row is read again: what can change (a
 * revocation this server did not hear of) is seen, without paying bcrypt again for a secret
 * already proven against that row's digest.
 */
class KeyCacheTest {
    private static final Duration CACHE = Duration.ofSeconds(5);

    @TempDir
    Path dataDir;
    Database db;
    AuditLog audit;
    final ManualClock clock = new ManualClock();

    @BeforeEach
    void open() {
        db = Database.open(Config.sqliteUrl(dataDir));
        audit = new AuditLog(db);
    }

    @AfterEach
    void close() {
        db.close();
    }

    /** One server's keys; no announcements reach it (nothing listens), as while PostgreSQL restarts. */
    private ApiKeys server() {
        return new ApiKeys(db, audit, CACHE, Config.Limits.DEFAULTS, clock);
    }

    @Test
    void a_cached_key_past_the_cache_time_is_read_again_without_bcrypt() {
        ApiKeys keys = server();
        String secret = new Tenants(db, keys, audit).create("acme", null).adminSecret();
        keys.authenticate(secret);
        long runs = keys.bcryptRuns();

        for (int i = 0; i < 3; i++) {
            clock.advance(CACHE.plusSeconds(1));
            assertThat(keys.authenticate(secret).orgName()).isEqualTo("acme");
        }

        assertThat(keys.bcryptRuns()).isEqualTo(runs);
    }

    @Test
    void a_revocation_this_server_did_not_hear_of_is_refused_once_the_cache_time_passes() {
        ApiKeys here = server();
        ApiKeys elsewhere = server();
        Tenants.NewOrg org = new Tenants(db, here, audit).create("acme", null);
        Actor admin = new Actor(org.id(), org.adminKeyId(), "req", "127.0.0.1");
        String secret = elsewhere.create(admin, "ci", Scope.WRITE).secret();
        String keyId = here.authenticate(secret).keyId();
        long runs = here.bcryptRuns();

        elsewhere.revoke(admin, keyId);
        assertThat(here.authenticate(secret).keyId()).as("within the cache time").isEqualTo(keyId);
        clock.advance(CACHE.plusSeconds(1));

        assertThatThrownBy(() -> here.authenticate(secret)).isInstanceOfSatisfying(ApiError.class,
                e -> assertThat(e.getMessage()).contains("has been revoked"));
        assertThatThrownBy(() -> here.authenticate(secret)).isInstanceOf(ApiError.class);
        assertThat(here.bcryptRuns()).isEqualTo(runs);
    }

    @Test
    void a_secret_is_proven_again_when_its_prefix_holds_another_digest() {
        ApiKeys keys = server();
        String secret = new Tenants(db, keys, audit).create("acme", null).adminSecret();
        keys.authenticate(secret);
        long runs = keys.bcryptRuns();
        // The key's row now holds another secret's digest under the same prefix (a key deleted and
        // another made with its prefix): the cached proof no longer applies.
        String other = BCrypt.withDefaults().hashToString(4, "kt_live_another".toCharArray());
        db.execute("UPDATE api_keys SET digest = ? WHERE prefix = ?", other, KeySecret.prefix(secret));
        clock.advance(CACHE.plusSeconds(1));

        assertThatThrownBy(() -> keys.authenticate(secret)).isInstanceOfSatisfying(ApiError.class,
                e -> assertThat(e.getMessage()).isEqualTo("invalid API key"));
        assertThat(keys.bcryptRuns()).isEqualTo(runs + 1);
    }
}
