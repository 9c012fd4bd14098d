package dev.karta.server.keys;

import at.favre.lib.crypto.bcrypt.BCrypt;
import dev.karta.server.Ids;
import dev.karta.server.audit.Actor;
import dev.karta.server.audit.AuditLog;
import dev.karta.server.http.ApiError;
import dev.karta.server.store.Database;
import dev.karta.server.store.Digests;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import org.jdbi.v3.core.Handle;

/**
 * Creates, validates, lists and revokes API keys.
 *
 * <p>Validation is prefix lookup, then a bcrypt check (constant-time compare), then revocation.
 * Bcrypt is slow on purpose, so it runs only for a well-formed key whose prefix exists and that
 * is not already known to be good or bad: good keys are cached for {@code cacheTtl}, rejected
 * ones for a minute, and at most one bcrypt check per core runs at a time (others wait briefly,
 * then get 429). Revoking drops the key from this node's cache at once; other nodes see it
 * within {@code cacheTtl}.
 */
public final class ApiKeys {
    private static final int BCRYPT_COST = 10;
    private static final Duration REJECTED_TTL = Duration.ofMinutes(1);
    private static final int MAX_REJECTED = 10_000;
    private static final Duration TOUCH_EVERY = Duration.ofMinutes(1);

    private record Cached(Principal principal, long expiresAt) {
    }

    private final Database db;
    private final KeyStore store;
    private final AuditLog audit;
    private final Duration cacheTtl;
    private final Map<String, Cached> valid = new ConcurrentHashMap<>();
    private final Map<String, Long> rejected = new ConcurrentHashMap<>();
    private final Map<String, Long> lastTouched = new ConcurrentHashMap<>();
    private final Map<String, CompletableFuture<Boolean>> verifying = new ConcurrentHashMap<>();
    private final Semaphore bcryptPermits = new Semaphore(Runtime.getRuntime().availableProcessors());

    public ApiKeys(Database db, AuditLog audit, Duration cacheTtl) {
        this.db = db;
        this.store = new KeyStore(db);
        this.audit = audit;
        this.cacheTtl = cacheTtl;
    }

    /** A freshly minted key: its stored form and the secret, which is shown once and never kept. */
    public record Minted(dev.karta.api.ApiKey key, String secret) {
    }

    /**
     * Mints a key inside the caller's transaction. {@code presetSecret} (may be null) is used
     * instead of a random secret, for {@code KARTA_BOOTSTRAP_KEY}.
     */
    public Minted mint(Handle h, String orgId, String name, Scope scope, String presetSecret) {
        if (presetSecret != null && !KeySecret.isWellFormed(presetSecret)) {
            throw new IllegalArgumentException("preset key must be kt_live_ followed by 32 letters or digits");
        }
        String secret = presetSecret != null ? presetSecret : KeySecret.generate();
        String digest = BCrypt.withDefaults().hashToString(BCRYPT_COST, secret.toCharArray());
        StoredKey key = new StoredKey(Ids.next("key"), orgId, null, name, scope, KeySecret.prefix(secret),
                digest, Instant.now(), null, null);
        store.insert(h, key);
        return new Minted(key.toWire(), secret);
    }

    /** Creates a key for the actor's org, with an audit event, and returns its secret once. */
    public Minted create(Actor actor, String name, Scope scope) {
        // Retried once: a prefix clash (6 random characters) is possible, if wildly unlikely.
        for (int attempt = 0; ; attempt++) {
            try {
                return db.inTransaction(h -> {
                    Minted minted = mint(h, actor.orgId(), name, scope, null);
                    audit.append(h, actor, "api_key.create", "api_key:" + minted.key().id());
                    return minted;
                });
            } catch (RuntimeException e) {
                if (attempt > 0 || !Database.isUniqueViolation(e)) {
                    throw e;
                }
            }
        }
    }

    public List<dev.karta.api.ApiKey> list(String orgId) {
        return store.list(orgId).stream().map(StoredKey::toWire).toList();
    }

    /** Revokes a key of the actor's org; revoking a revoked key changes nothing. */
    public dev.karta.api.ApiKey revoke(Actor actor, String id) {
        StoredKey revoked = db.inTransaction(h -> {
            StoredKey key = store.byId(h, actor.orgId(), id).orElseThrow(() -> ApiError.notFound("api key", id));
            if (!key.isRevoked()) {
                store.revoke(h, id, Instant.now());
                audit.append(h, actor, "api_key.revoke", "api_key:" + id);
            }
            return store.byId(h, actor.orgId(), id).orElseThrow();
        });
        valid.values().removeIf(cached -> cached.principal().keyId().equals(id));
        return revoked.toWire();
    }

    /** The caller behind a presented secret, or a 401 (429 when bcrypt capacity is exhausted). */
    public Principal authenticate(String secret) {
        if (!KeySecret.isWellFormed(secret)) {
            throw ApiError.unauthorized("malformed API key: expected kt_live_ followed by 32 letters or digits");
        }
        String fingerprint = fingerprint(secret);
        long now = System.currentTimeMillis();
        Cached cached = valid.get(fingerprint);
        if (cached != null && cached.expiresAt() > now) {
            touch(cached.principal().keyId(), now);
            return cached.principal();
        }
        Long rejectedUntil = rejected.get(fingerprint);
        if (rejectedUntil != null && rejectedUntil > now) {
            throw invalidKey();
        }
        Optional<StoredKey> stored = store.byPrefix(KeySecret.prefix(secret));
        if (stored.isEmpty() || !verifyOnce(fingerprint, secret, stored.get().digest())) {
            reject(fingerprint, now);
            throw invalidKey();
        }
        StoredKey key = stored.get();
        if (key.isRevoked()) {
            reject(fingerprint, now);
            throw ApiError.unauthorized("API key " + key.id() + " has been revoked");
        }
        Principal principal = key.principal();
        valid.put(fingerprint, new Cached(principal, now + cacheTtl.toMillis()));
        touch(key.id(), now);
        return principal;
    }

    /**
     * Verifies a secret against its digest, with at most one bcrypt run per secret at a time:
     * concurrent requests presenting the same uncached key wait for that one result.
     */
    private boolean verifyOnce(String fingerprint, String secret, String digest) {
        CompletableFuture<Boolean> mine = new CompletableFuture<>();
        CompletableFuture<Boolean> running = verifying.putIfAbsent(fingerprint, mine);
        if (running != null) {
            try {
                return running.get(10, TimeUnit.SECONDS);
            } catch (ExecutionException e) {
                throw e.getCause() instanceof RuntimeException r ? r : new IllegalStateException(e.getCause());
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw ApiError.unavailable("interrupted while checking the API key");
            } catch (TimeoutException e) {
                throw ApiError.tooManyRequests("too many API key checks in flight; retry shortly");
            }
        }
        try {
            boolean verified = verify(secret, digest);
            mine.complete(verified);
            return verified;
        } catch (RuntimeException e) {
            mine.completeExceptionally(e);
            throw e;
        } finally {
            verifying.remove(fingerprint, mine);
        }
    }

    private boolean verify(String secret, String digest) {
        try {
            if (!bcryptPermits.tryAcquire(5, TimeUnit.SECONDS)) {
                throw ApiError.tooManyRequests("too many API key checks in flight; retry shortly");
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw ApiError.unavailable("interrupted while checking the API key");
        }
        try {
            return BCrypt.verifyer().verify(secret.toCharArray(), digest).verified;
        } finally {
            bcryptPermits.release();
        }
    }

    private void reject(String fingerprint, long now) {
        if (rejected.size() >= MAX_REJECTED) {
            rejected.clear();
        }
        rejected.put(fingerprint, now + REJECTED_TTL.toMillis());
    }

    private void touch(String keyId, long now) {
        Long last = lastTouched.get(keyId);
        if (last == null || now - last >= TOUCH_EVERY.toMillis()) {
            lastTouched.put(keyId, now);
            store.touch(keyId, Instant.ofEpochMilli(now));
        }
    }

    private static ApiError invalidKey() {
        return ApiError.unauthorized("invalid API key");
    }

    private static String fingerprint(String secret) {
        return Digests.sha256Hex(secret.getBytes(StandardCharsets.US_ASCII));
    }
}
