package dev.karta.server.keys;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import at.favre.lib.crypto.bcrypt.BCrypt;
import dev.karta.server.Config;
import dev.karta.server.audit.AuditLog;
import dev.karta.server.http.Actor;
import dev.karta.server.http.ApiError;
import dev.karta.server.http.Principal;
import dev.karta.server.http.Scope;
import dev.karta.server.orgs.Tenants;
import dev.karta.server.store.Database;
import dev.karta.server.testkit.ManualClock;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Failed key checks cannot be turned into a bcrypt drain: per-prefix and per-address throttles
 * that skip bcrypt, and per-org shares of the bcrypt slots.
 */
class KeyThrottleTest {
    private static final int PER_PREFIX = 3;
    private static final int PER_ADDRESS = 5;

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

    private ApiKeys keys(int perPrefix, int perAddress) {
        Config.Limits d = Config.Limits.DEFAULTS;
        return new ApiKeys(db, audit, Duration.ofMinutes(10), new Config.Limits(d.maxProjectsPerOrg(),
                d.maxLiveSessionsPerOrg(), d.maxTurnsPerOrg(), d.maxQueuedDeploysPerOrg(), d.maxBuildsPerOrg(),
                perPrefix, perAddress), clock);
    }

    /** A made-up secret with the prefix of {@code secret}: a guess that costs a bcrypt run. */
    private static String guess(String secret, int n) {
        String suffix = String.format("%026d", n);
        return secret.substring(0, KeySecret.PREFIX_LENGTH) + suffix;
    }

    private static String unauthorized(Runnable check) {
        try {
            check.run();
        } catch (ApiError e) {
            assertThat(e.kind()).isEqualTo(ApiError.Kind.UNAUTHORIZED);
            return e.getMessage();
        }
        throw new AssertionError("expected a 401");
    }

    @Test
    void after_the_failures_allowed_per_prefix_a_guess_runs_no_bcrypt_until_the_minute_passes() {
        ApiKeys keys = keys(PER_PREFIX, 1000);
        String secret = new Tenants(db, keys, audit).create("acme", null).adminSecret();

        for (int i = 0; i < PER_PREFIX; i++) {
            int n = i;
            unauthorized(() -> keys.authenticate(guess(secret, n), "10.0.0." + n));
        }
        long runs = keys.bcryptRuns();
        String throttled = unauthorized(() -> keys.authenticate(guess(secret, 99), "10.0.0.99"));
        String right = unauthorized(() -> keys.authenticate(secret, "10.0.0.100"));

        assertThat(keys.bcryptRuns()).isEqualTo(runs);
        assertThat(throttled).contains("too many failed checks");
        assertThat(right).as("the right secret, not cached, waits too").contains("too many failed checks");

        clock.advance(Duration.ofSeconds(61));
        assertThat(keys.authenticate(secret, "10.0.0.100").orgName()).isEqualTo("acme");
        assertThat(keys.bcryptRuns()).isEqualTo(runs + 1);
    }

    @Test
    void a_cached_key_keeps_working_while_its_prefix_is_throttled() {
        ApiKeys keys = keys(PER_PREFIX, 1000);
        String secret = new Tenants(db, keys, audit).create("acme", null).adminSecret();
        keys.authenticate(secret, "10.0.0.1");

        for (int i = 0; i <= PER_PREFIX; i++) {
            int n = i;
            unauthorized(() -> keys.authenticate(guess(secret, n), "10.0.0.2"));
        }

        assertThat(keys.authenticate(secret, "10.0.0.1").orgName()).isEqualTo("acme");
    }

    @Test
    void after_the_failures_allowed_per_address_that_address_runs_no_bcrypt_until_the_minute_passes() {
        ApiKeys keys = keys(1000, PER_ADDRESS);
        Tenants tenants = new Tenants(db, keys, audit);
        Tenants.NewOrg org = tenants.create("acme", null);
        Actor admin = new Actor(org.id(), org.adminKeyId(), "req", "127.0.0.1");
        List<String> secrets = new ArrayList<>();
        for (int i = 0; i < PER_ADDRESS + 2; i++) {
            secrets.add(keys.create(admin, "k" + i, Scope.READ).secret());
        }

        for (int i = 0; i < PER_ADDRESS; i++) {
            String s = secrets.get(i);
            unauthorized(() -> keys.authenticate(guess(s, 1), "10.9.9.9"));
        }
        long runs = keys.bcryptRuns();
        String fresh = secrets.get(PER_ADDRESS);
        String throttled = unauthorized(() -> keys.authenticate(guess(fresh, 1), "10.9.9.9"));

        assertThat(throttled).contains("too many failed API key checks from 10.9.9.9");
        assertThat(keys.bcryptRuns()).isEqualTo(runs);
        assertThat(keys.authenticate(fresh, "10.1.1.1").keyName()).as("other addresses are not throttled")
                .isEqualTo("k" + PER_ADDRESS);

        clock.advance(Duration.ofSeconds(61));
        String last = secrets.get(PER_ADDRESS + 1);
        assertThat(keys.authenticate(last, "10.9.9.9").keyName()).isEqualTo("k" + (PER_ADDRESS + 1));
    }

    @Test
    void concurrent_guesses_of_one_prefix_run_no_more_bcrypt_checks_than_the_limit() throws Exception {
        ApiKeys keys = keys(PER_PREFIX, 1000);
        String secret = new Tenants(db, keys, audit).create("acme", null).adminSecret();
        ExecutorService attackers = Executors.newFixedThreadPool(16);
        try {
            List<Future<?>> guesses = new ArrayList<>();
            for (int i = 0; i < 16; i++) {
                int n = i;
                guesses.add(attackers.submit(() -> unauthorized(() -> keys.authenticate(guess(secret, n), "10.0.0.9"))));
            }
            for (Future<?> guess : guesses) {
                guess.get(30, TimeUnit.SECONDS);
            }
        } finally {
            attackers.shutdownNow();
        }

        assertThat(keys.bcryptRuns()).isLessThanOrEqualTo(PER_PREFIX);
    }

    @Test
    void an_address_throttled_for_one_orgs_keys_still_checks_another_orgs_keys() {
        ApiKeys keys = keys(1000, PER_ADDRESS);
        Tenants tenants = new Tenants(db, keys, audit);
        Tenants.NewOrg attacker = tenants.create("attacker", null);
        String victim = tenants.create("victim", null).adminSecret();
        Actor admin = new Actor(attacker.id(), attacker.adminKeyId(), "req", "127.0.0.1");
        List<String> own = new ArrayList<>();
        for (int i = 0; i <= PER_ADDRESS; i++) {
            own.add(keys.create(admin, "k" + i, Scope.READ).secret());
        }

        // Behind one proxy every client has the same address.
        for (int i = 0; i < PER_ADDRESS; i++) {
            String s = own.get(i);
            unauthorized(() -> keys.authenticate(guess(s, 1), "10.9.9.9"));
        }
        String last = own.get(PER_ADDRESS);

        assertThat(unauthorized(() -> keys.authenticate(guess(last, 1), "10.9.9.9")))
                .contains("too many failed API key checks from 10.9.9.9");
        assertThat(keys.authenticate(victim, "10.9.9.9").orgName()).isEqualTo("victim");
    }

    @Test
    void one_orgs_guesses_cannot_hold_every_bcrypt_slot() throws Exception {
        ApiKeys keys = keys(1000, 1000);
        Tenants tenants = new Tenants(db, keys, audit);
        String attacked = tenants.create("attacked", null).adminSecret();
        String other = tenants.create("other", null).adminSecret();
        // Org A's key has a slow digest: each guess holds a bcrypt slot for about a second.
        String slow = BCrypt.withDefaults().hashToString(14, attacked.toCharArray());
        db.execute("UPDATE api_keys SET digest = ? WHERE prefix = ?", slow, attacked.substring(0, KeySecret.PREFIX_LENGTH));
        int attackers = 2 * Runtime.getRuntime().availableProcessors();
        AtomicInteger guessesDone = new AtomicInteger();
        ExecutorService pool = Executors.newFixedThreadPool(attackers);
        try {
            List<Future<?>> running = new ArrayList<>();
            for (int i = 0; i < attackers; i++) {
                int n = i;
                running.add(pool.submit(() -> {
                    try {
                        keys.authenticate(guess(attacked, n), "10.0.0." + n);
                    } catch (ApiError expected) {
                        // 401 for a wrong guess, 429 for one that found no free slot in time
                    } finally {
                        guessesDone.incrementAndGet();
                    }
                }));
            }
            await().until(() -> keys.bcryptRuns() > 0);

            Principal caller = keys.authenticate(other, "10.2.2.2");
            int doneWhenVerified = guessesDone.get();

            assertThat(caller.orgName()).isEqualTo("other");
            assertThat(doneWhenVerified).as("org B's key was checked while org A's guesses still held their slots")
                    .isZero();
            for (Future<?> f : running) {
                f.get();
            }
        } finally {
            pool.shutdownNow();
        }
        assertThatThrownBy(() -> keys.authenticate(guess(other, 1), "10.3.3.3")).isInstanceOf(ApiError.class);
    }
}
