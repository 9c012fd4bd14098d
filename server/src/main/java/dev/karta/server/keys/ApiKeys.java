package dev.karta.server.keys;

import at.favre.lib.crypto.bcrypt.BCrypt;
import dev.karta.server.Config;
import dev.karta.server.Ids;
import dev.karta.server.audit.AuditLog;
import dev.karta.server.events.Events;
import dev.karta.server.http.Actor;
import dev.karta.server.http.ApiError;
import dev.karta.server.http.FailureWindows;
import dev.karta.server.http.Principal;
import dev.karta.server.http.Scope;
import dev.karta.server.store.Database;
import dev.karta.server.store.Notifications;
import dev.karta.server.store.Digests;
import dev.karta.server.store.Threads;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.Collection;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Consumer;
import org.jdbi.v3.core.Handle;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Creates, validates, lists and revokes API keys.
 *
 * <p>Validation is prefix lookup, then a bcrypt check (constant-time compare), then revocation.
 * Bcrypt is slow on purpose, so it runs only for a well-formed key whose prefix exists and that
 * is not already known to be good or bad: good keys are cached for {@code cacheTtl}, rejected
 * ones for a minute, and at most one bcrypt check per core runs at a time (others wait briefly,
 * then get 429). Once its {@code cacheTtl} has passed, a good key's row is read again (revoked?
 * expired? its project deleted?), but bcrypt is not run again while the row's digest is the one
 * the secret was proven against: a busy key costs one look-up per {@code cacheTtl}, not a bcrypt
 * run (tens of milliseconds of one core) per server. Revoking drops the key from this node's
 * cache at once; on PostgreSQL the revocation is also announced to the other servers sharing the
 * database ({@link Notifications}, at commit), which drop it from their caches and end its streams
 * as if it had been revoked there. While a server is not listening (PostgreSQL restarting) it
 * sees the revocation within {@code cacheTtl}, as without announcements.
 *
 * <p>Bcrypt is also what an attacker can make us spend: any read key lists its org's key
 * prefixes, and a known prefix with a made-up suffix costs a bcrypt run. So failed bcrypt checks
 * are counted per prefix and per client address in one-minute windows; past
 * {@link Config.Limits#keyFailuresPerPrefix()} (or {@code keyFailuresPerAddress()}) failures,
 * checks of that prefix (or from that address) are answered 401 without bcrypt until the window
 * ends. That includes the right secret of that prefix unless it is already cached as valid: a
 * correct secret cannot be told from a guess without bcrypt, and verifying it anyway would let
 * every guess through to bcrypt again. And each org gets at most half of the bcrypt slots, so
 * the guesses of one org (its prefixes are the only ones it can list) never take every slot
 * from the others.
 *
 * <p>A key may expire: from its {@code expires_at} on it is refused like a revoked one, cached or
 * not (a cached key's expiry is checked on every use).
 * A key may be restricted to one project ({@link Principal#projectId()}); deleting that project
 * revokes it, in the deleting transaction ({@link #revokeRestrictedTo}), and a key whose project
 * is gone is refused even if it escaped that (made while the project was being deleted).
 *
 * <p>A key's {@code last_used_at} is written at most once a minute, whatever the number of
 * requests and servers: each server skips keys it recorded within the minute, and the write
 * itself only moves a time older than a minute. The write runs off the request's path, on one
 * background thread; a lost write (server stopping, database briefly away) only makes the time
 * later than it should be.
 */
public final class ApiKeys {
    private static final Logger LOG = LoggerFactory.getLogger(ApiKeys.class);
    private static final String INVALID_KEY = "invalid API key";
    private static final int BCRYPT_COST = 10;
    private static final Duration REJECTED_TTL = Duration.ofMinutes(1);
    private static final int MAX_REJECTED = 10_000;
    private static final Duration TOUCH_EVERY = Duration.ofMinutes(1);
    /** Where a revocation's key id is announced to the other servers. */
    static final String REVOKED_CHANNEL = "karta_key_revocations";

    /**
     * A secret bcrypt proved to match {@code digest}, the stored digest of the principal's key,
     * whose state was read at most {@code cacheTtl} before {@code checkedUntil}.
     */
    private record Cached(Principal principal, String digest, long checkedUntil) {
    }

    /** A refused secret: until when it is refused without a look-up, and what it is told. */
    private record Rejection(long until, String message) {
    }

    /** At most this many {@code last_used_at} writes wait for the background thread; more are dropped. */
    private static final int MAX_PENDING_TOUCHES = 10_000;

    private final Database db;
    private final KeyStore store;
    private final AuditLog audit;
    private final Duration cacheTtl;
    private final Map<String, Cached> valid = new ConcurrentHashMap<>();
    private final Map<String, Rejection> rejected = new ConcurrentHashMap<>();
    private final Map<String, Long> lastTouched = new ConcurrentHashMap<>();
    private final Map<String, CompletableFuture<Boolean>> verifying = new ConcurrentHashMap<>();
    private static final Duration SLOT_WAIT = Duration.ofSeconds(5);

    private final Config.Limits limits;
    private final Clock clock;
    private final int bcryptSlots = Runtime.getRuntime().availableProcessors();
    private final int bcryptSlotsPerOrg = Math.max(1, bcryptSlots / 2);
    private final Semaphore bcryptPermits = new Semaphore(bcryptSlots);
    private final Map<String, Semaphore> orgPermits = new ConcurrentHashMap<>();
    private final FailureWindows prefixFailures;
    private final FailureWindows addressFailures;
    private final AtomicLong bcryptRuns = new AtomicLong();
    private final List<Consumer<String>> revocationListeners = new CopyOnWriteArrayList<>();
    private final Set<String> revokedHere = ConcurrentHashMap.newKeySet();
    private final Notifications notifications;
    /** One thread, started when there is a write to do and gone after ten idle seconds. */
    private final ThreadPoolExecutor toucher = new ThreadPoolExecutor(0, 1, 10, TimeUnit.SECONDS,
            new LinkedBlockingQueue<>(MAX_PENDING_TOUCHES), Threads.daemon("key-last-used"),
            new ThreadPoolExecutor.DiscardPolicy());
    private final AtomicLong touchesDone = new AtomicLong();
    private final AtomicLong touchWrites = new AtomicLong();

    public ApiKeys(Database db, AuditLog audit, Duration cacheTtl) {
        this(db, audit, cacheTtl, Config.Limits.DEFAULTS, Clock.systemUTC());
    }

    public ApiKeys(Database db, AuditLog audit, Duration cacheTtl, Config.Limits limits, Clock clock) {
        this(db, audit, cacheTtl, limits, clock, new Notifications(db));
    }

    /** With revocations announced to, and taken from, the other servers on {@code notifications}. */
    public ApiKeys(Database db, AuditLog audit, Duration cacheTtl, Config.Limits limits, Clock clock,
                   Notifications notifications) {
        this.db = db;
        this.store = new KeyStore(db);
        this.audit = audit;
        this.cacheTtl = cacheTtl;
        this.limits = limits;
        this.clock = clock;
        this.prefixFailures = new FailureWindows(limits.keyFailuresPerPrefix(), clock);
        this.addressFailures = new FailureWindows(limits.keyFailuresPerAddress(), clock);
        this.notifications = notifications;
        notifications.on(REVOKED_CHANNEL, this::forgetRevoked);
    }

    /** A freshly minted key: its stored form and the secret, which is shown once and never kept. */
    public record Minted(dev.karta.api.ApiKey key, String secret) {
    }

    /**
     * Mints a key inside the caller's transaction. {@code presetSecret} (may be null) is used
     * instead of a random secret, for {@code KARTA_BOOTSTRAP_KEY}.
     */
    public Minted mint(Handle h, String orgId, String name, Scope scope, String presetSecret) {
        return mint(h, orgId, name, scope, presetSecret, null, null);
    }

    private Minted mint(Handle h, String orgId, String name, Scope scope, String presetSecret, Instant expiresAt,
                        Restriction project) {
        if (presetSecret != null && !KeySecret.isWellFormed(presetSecret)) {
            throw new IllegalArgumentException("preset key must be kt_live_ followed by 32 letters or digits");
        }
        String secret = presetSecret != null ? presetSecret : KeySecret.generate();
        String digest = BCrypt.withDefaults().hashToString(BCRYPT_COST, secret.toCharArray());
        StoredKey key = new StoredKey(Ids.next("key"), orgId, null, name, scope, KeySecret.prefix(secret),
                digest, Instant.now(), null, null, expiresAt,
                project == null ? null : project.id(), project == null ? null : project.name(),
                project == null ? null : project.name());
        store.insert(h, key);
        return new Minted(key.toWire(), secret);
    }

    /**
     * Mints a key that expires at {@code expiresAt} and is restricted to {@code project}, inside the
     * caller's transaction and without an audit event: for a caller that records its own (keyless
     * CI, whose event names the new key as its actor). A prefix clash throws a unique violation.
     */
    public Minted mintRestricted(Handle h, String orgId, String name, Scope scope, Instant expiresAt,
                                 Restriction project) {
        return mint(h, orgId, name, scope, null, Objects.requireNonNull(expiresAt, "expiresAt"),
                Objects.requireNonNull(project, "project"));
    }

    /** The project a new key is restricted to: its id, and its name when the key is made. */
    public record Restriction(String id, String name) {
        public Restriction {
            Objects.requireNonNull(id, "id");
            Objects.requireNonNull(name, "name");
        }
    }

    /** Creates an org-wide key that never expires; see {@link #create(Actor, String, Scope, Instant, Restriction)}. */
    public Minted create(Actor actor, String name, Scope scope) {
        return create(actor, name, scope, null, null);
    }

    /**
     * Creates a key for the actor's org, with an audit event, and returns its secret once.
     * {@code expiresAt} (null: never) and {@code project} (null: the whole org) are checked by the
     * caller.
     */
    public Minted create(Actor actor, String name, Scope scope, Instant expiresAt, Restriction project) {
        // Retried once: a prefix clash (6 random characters) is possible, if wildly unlikely.
        for (int attempt = 0; ; attempt++) {
            try {
                return db.inTransaction(h -> {
                    Minted minted = mint(h, actor.orgId(), name, scope, null, expiresAt, project);
                    audit.append(h, actor, "api_key.create", "api_key:" + minted.key().id());
                    Events.record(h, actor.orgId(), null, Events.KEY_CREATED, Events.data("key", Events.data(
                            "id", minted.key().id(), "name", minted.key().name(), "scopes", minted.key().scopes())));
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
                Events.record(h, actor.orgId(), null, Events.KEY_REVOKED, Events.data("key", Events.data(
                        "id", id, "name", key.name())));
                notifications.send(h, REVOKED_CHANNEL, id);
            }
            return store.byId(h, actor.orgId(), id).orElseThrow();
        });
        forgetRevoked(id);
        return revoked.toWire();
    }

    /**
     * Revokes, inside the transaction that deletes project {@code projectId}, every key restricted
     * to it, each with an audit event and an announcement to the other servers: a restricted key
     * never outlives its project to become usable on something else. Run the returned work after
     * the commit: it drops the keys from this server's cache and ends their streams.
     */
    public Runnable revokeRestrictedTo(Handle h, Actor actor, String projectId) {
        List<String> ids = store.unrevokedOfProject(h, projectId);
        Instant now = Instant.now();
        for (String id : ids) {
            store.revoke(h, id, now);
            audit.append(h, actor, "api_key.revoke", "api_key:" + id);
            notifications.send(h, REVOKED_CHANNEL, id);
        }
        return () -> ids.forEach(this::forgetRevoked);
    }

    /**
     * Applies a revocation, here or announced by another server: the key leaves the cache, and
     * the revocation listeners (open streams) run.
     */
    private void forgetRevoked(String id) {
        valid.values().removeIf(cached -> cached.principal().keyId().equals(id));
        revokedHere.add(id);
        for (Consumer<String> listener : revocationListeners) {
            listener.accept(id);
        }
    }

    /**
     * Runs {@code listener} with a key's id after that key is revoked on this server (after the
     * commit), or when another server announces that it revoked it. Revocations on other servers
     * while this one did not listen are seen through {@link #unusable}.
     */
    public void onRevoke(Consumer<String> listener) {
        revocationListeners.add(listener);
    }

    /**
     * Whether this server knows the key as revoked (here, or announced by another server): a check
     * without a query, for streams.
     */
    public boolean revokedHere(String keyId) {
        return revokedHere.contains(keyId);
    }

    /**
     * The keys among {@code keyIds} that can no longer be used: revoked, expired, or gone (deleted
     * with their org), on any server sharing the database. They are also dropped from this server's
     * cache, so their next request is checked again rather than served from the cache.
     */
    public Set<String> unusable(Collection<String> keyIds) {
        Set<String> usable = store.usable(keyIds, clock.instant());
        Set<String> unusable = new HashSet<>(keyIds);
        unusable.removeAll(usable);
        if (!unusable.isEmpty()) {
            valid.values().removeIf(cached -> unusable.contains(cached.principal().keyId()));
        }
        return unusable;
    }

    /**
     * The caller behind key {@code keyId} while the key can be used (not revoked, not expired, its
     * project not deleted), read from the database: for what a key was exchanged for (the
     * dashboard's sessions), which ends with the key on its next request.
     */
    public Optional<Principal> usable(String keyId) {
        long now = clock.millis();
        Optional<StoredKey> key = store.byId(keyId).filter(k -> !k.isRevoked()
                && !k.isExpired(Instant.ofEpochMilli(now)) && (k.projectId() == null || k.projectName() != null));
        key.ifPresent(k -> touch(k.id(), now));
        return key.map(StoredKey::principal);
    }

    /** {@link #authenticate(String, String)} for a caller whose address is unknown. */
    public Principal authenticate(String secret) {
        return authenticate(secret, null);
    }

    /**
     * The caller behind a presented secret, or a 401 (429 when bcrypt capacity is exhausted).
     * {@code address} (may be null) is the client's, for the per-address failure throttle.
     */
    public Principal authenticate(String secret, String address) {
        if (!KeySecret.isWellFormed(secret)) {
            throw ApiError.unauthorized("malformed API key: expected kt_live_ followed by 32 letters or digits");
        }
        String fingerprint = fingerprint(secret);
        long now = clock.millis();
        Cached cached = valid.get(fingerprint);
        if (cached != null) {
            Instant expiresAt = cached.principal().expiresAt();
            if (expiresAt != null && now >= expiresAt.toEpochMilli()) {
                // Past its expiry the key is refused at once, whatever the cache's own time to live.
                valid.remove(fingerprint, cached);
                throw refuse(fingerprint, now, expired(cached.principal().keyId(), expiresAt));
            }
            if (cached.checkedUntil() > now) {
                touch(cached.principal().keyId(), now);
                return cached.principal();
            }
        }
        Rejection rejection = rejected.get(fingerprint);
        if (rejection != null && rejection.until() > now) {
            throw ApiError.unauthorized(rejection.message());
        }
        String prefix = KeySecret.prefix(secret);
        Optional<StoredKey> stored = store.byPrefix(prefix);
        // Only failures that cost a bcrypt run count: an unknown prefix, or a throttled one, costs a look-up.
        if (stored.isEmpty()) {
            throw refuse(fingerprint, now, INVALID_KEY);
        }
        StoredKey key = stored.get();
        // A secret bcrypt proved against this very digest is checked again without bcrypt: only
        // the key's state (revoked, expired, its project) can have changed, not what it matches.
        boolean proven = cached != null && cached.digest().equals(key.digest());
        // Per address and org: clients behind one proxy share an address, and one tenant's guesses
        // must not lock another tenant out.
        String origin = address == null ? null : address + " " + key.orgId();
        if (!proven && !verifyOnce(fingerprint, secret, key, () -> admitCheck(prefix, origin, address),
                () -> forgive(prefix, origin))) {
            throw refuse(fingerprint, now, INVALID_KEY);
        }
        if (key.isRevoked()) {
            throw refuse(fingerprint, now, "API key " + key.id() + " has been revoked");
        }
        if (key.isExpired(Instant.ofEpochMilli(now))) {
            throw refuse(fingerprint, now, expired(key.id(), key.expiresAt()));
        }
        if (key.projectId() != null && key.projectName() == null) {
            // Its project was deleted (which revokes it too, unless the key was made meanwhile):
            // restricted to nothing, it can do nothing at all.
            throw refuse(fingerprint, now, "API key " + key.id() + " was restricted to project "
                    + key.projectNameAtCreation() + ", which has been deleted");
        }
        Principal principal = key.principal();
        valid.put(fingerprint, new Cached(principal, key.digest(), now + cacheTtl.toMillis()));
        touch(key.id(), now);
        return principal;
    }

    /**
     * Counts a bcrypt run against the prefix's and the origin's windows before it starts, or throws
     * the 401 of whichever is full. Counting first (and taking back the runs whose key was right)
     * keeps concurrent guesses from all passing before the first of them has failed.
     */
    private void admitCheck(String prefix, String origin, String address) {
        if (!addressFailures.admit(origin)) {
            throw ApiError.unauthorized("too many failed API key checks from " + address + ": retry in a minute");
        }
        if (!prefixFailures.admit(prefix)) {
            addressFailures.forgive(origin);
            throw ApiError.unauthorized("too many failed checks of API keys starting " + prefix
                    + ": retry in a minute");
        }
    }

    /** Takes back a counted run that was not a failure. */
    private void forgive(String prefix, String origin) {
        prefixFailures.forgive(prefix);
        addressFailures.forgive(origin);
    }

    /**
     * Verifies a secret against its digest, with at most one bcrypt run per secret at a time:
     * concurrent requests presenting the same uncached key wait for that one result. The request
     * that runs bcrypt is first {@code admitted} (which may throw), and {@code forgiven} unless its
     * key turned out wrong.
     */
    private boolean verifyOnce(String fingerprint, String secret, StoredKey key, Runnable admitted,
                               Runnable forgiven) {
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
            admitted.run();
            boolean verified;
            try {
                verified = verify(secret, key.digest(), key.orgId());
            } catch (RuntimeException e) {
                forgiven.run();
                throw e;
            }
            if (verified) {
                forgiven.run();
            }
            mine.complete(verified);
            return verified;
        } catch (RuntimeException e) {
            mine.completeExceptionally(e);
            throw e;
        } finally {
            verifying.remove(fingerprint, mine);
        }
    }

    /** One bcrypt run in one of the org's slots (at most half of all), then one of all slots. */
    private boolean verify(String secret, String digest, String orgId) {
        Semaphore orgSlots = orgPermits.computeIfAbsent(orgId, org -> new Semaphore(bcryptSlotsPerOrg));
        long deadline = System.nanoTime() + SLOT_WAIT.toNanos();
        acquire(orgSlots, deadline);
        try {
            acquire(bcryptPermits, deadline);
            try {
                bcryptRuns.incrementAndGet();
                return BCrypt.verifyer().verify(secret.toCharArray(), digest).verified;
            } finally {
                bcryptPermits.release();
            }
        } finally {
            orgSlots.release();
        }
    }

    private static void acquire(Semaphore slots, long deadline) {
        try {
            if (!slots.tryAcquire(Math.max(0, deadline - System.nanoTime()), TimeUnit.NANOSECONDS)) {
                throw ApiError.tooManyRequests("too many API key checks in flight; retry shortly");
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw ApiError.unavailable("interrupted while checking the API key");
        }
    }

    /** Bcrypt runs so far, for tests: throttled checks must not add to it. */
    long bcryptRuns() {
        return bcryptRuns.get();
    }

    /**
     * Remembers a refused secret for a minute, with what it is told ({@code message}: only a holder
     * of the secret ever sees it), and returns the 401 to throw.
     */
    private ApiError refuse(String fingerprint, long now, String message) {
        if (rejected.size() >= MAX_REJECTED) {
            rejected.clear();
        }
        rejected.put(fingerprint, new Rejection(now + REJECTED_TTL.toMillis(), message));
        valid.remove(fingerprint);
        return ApiError.unauthorized(message);
    }

    private static String expired(String keyId, Instant at) {
        return "API key " + keyId + " expired at " + at + ": create a new key (karta keys create)";
    }

    /**
     * Records a use of the key, at most once a minute: skipped when this server recorded one
     * within the minute, else queued for the background thread, whose conditional write skips it
     * when another server did.
     */
    private void touch(String keyId, long now) {
        Long last = lastTouched.get(keyId);
        if (last != null && now - last < TOUCH_EVERY.toMillis()) {
            return;
        }
        boolean mine = last == null ? lastTouched.putIfAbsent(keyId, now) == null : lastTouched.replace(keyId, last, now);
        if (!mine) {
            return; // a concurrent request of this key records it
        }
        if (lastTouched.size() > MAX_REJECTED) {
            lastTouched.keySet().removeIf(id -> !id.equals(keyId));
        }
        Instant at = Instant.ofEpochMilli(now);
        toucher.execute(() -> {
            try {
                if (store.touch(keyId, at, at.minus(TOUCH_EVERY))) {
                    touchWrites.incrementAndGet();
                }
            } catch (RuntimeException e) {
                LOG.debug("could not record the use of key {}: {}", keyId, e.toString());
            } finally {
                touchesDone.incrementAndGet();
            }
        });
    }

    /** Background {@code last_used_at} writes finished so far (whether they changed the row), for tests. */
    long touchesDone() {
        return touchesDone.get();
    }

    /** Background {@code last_used_at} writes that changed the row, for tests. */
    long touchWrites() {
        return touchWrites.get();
    }

    private static String fingerprint(String secret) {
        return Digests.sha256Hex(secret.getBytes(StandardCharsets.US_ASCII));
    }
}
