package dev.karta.server.dashboard;

import dev.karta.server.http.Principal;
import dev.karta.server.keys.ApiKeys;
import dev.karta.server.logs.LogFeeds;
import dev.karta.server.store.Database;
import dev.karta.server.store.Digests;
import java.security.SecureRandom;
import java.time.Clock;
import java.time.Duration;
import java.util.Base64;
import java.util.Collection;
import java.util.HashSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.Consumer;

/**
 * The dashboard's sign-ins: an API key, checked once as the API checks it, exchanged for a random
 * session token that travels only in an HttpOnly cookie. The database keeps the token's SHA-256,
 * the key's id, a CSRF token and a server-side expiry ({@link #LIFETIME}, never past the key's
 * own). Every request looks the session up and the key behind it again, so signing out, revoking
 * or expiring the key ends the session on its next request, on every replica. A session's id is
 * its token's SHA-256, which is what a log stream opened with it holds: never the token itself.
 */
public final class DashboardSessions implements LogFeeds.SignIns {
    /** How long a sign-in lasts, whatever the activity: then the key is asked for again. */
    public static final Duration LIFETIME = Duration.ofHours(12);

    private static final SecureRandom RANDOM = new SecureRandom();

    /** A signed-in browser: its id, who it acts as, and the token its forms must carry. */
    public record Session(String id, Principal principal, String csrfToken) {
    }

    /** A new sign-in: the cookie's token, and how long the cookie should live. */
    public record SignedIn(String token, Duration lifetime) {
    }

    private final Database db;
    private final ApiKeys keys;
    private final Clock clock;
    private final List<Consumer<String>> signOutListeners = new CopyOnWriteArrayList<>();

    public DashboardSessions(Database db, ApiKeys keys, Clock clock) {
        this.db = db;
        this.keys = keys;
        this.clock = clock;
    }

    /** Checks {@code secret} (from {@code address}) as the API would, or throws its 401/429. */
    public SignedIn signIn(String secret, String address) {
        Principal principal = keys.authenticate(secret, address);
        long now = clock.millis();
        long expires = now + LIFETIME.toMillis();
        if (principal.expiresAt() != null) {
            expires = Math.min(expires, principal.expiresAt().toEpochMilli());
        }
        String token = randomToken();
        long expiresAt = expires;
        db.inTransaction(h -> {
            h.createUpdate("DELETE FROM dashboard_sessions WHERE expires_at <= :now").bind("now", now).execute();
            return h.createUpdate("""
                            INSERT INTO dashboard_sessions (token_hash, key_id, csrf_token, created_at, expires_at)
                            VALUES (:hash, :key, :csrf, :now, :expires)
                            """)
                    .bind("hash", Digests.sha256Hex(token))
                    .bind("key", principal.keyId())
                    .bind("csrf", randomToken())
                    .bind("now", now)
                    .bind("expires", expiresAt)
                    .execute();
        });
        return new SignedIn(token, Duration.ofMillis(expiresAt - now));
    }

    /** The live session behind a cookie's token: unexpired, and its key still usable. */
    public Optional<Session> find(String token) {
        if (token == null || token.isEmpty() || token.length() > 100) {
            return Optional.empty();
        }
        long now = clock.millis();
        String id = Digests.sha256Hex(token);
        record Row(String keyId, String csrf) {
        }
        Optional<Row> row = db.withHandle(h -> h.createQuery("""
                        SELECT key_id, csrf_token FROM dashboard_sessions
                        WHERE token_hash = :hash AND expires_at > :now
                        """)
                .bind("hash", id)
                .bind("now", now)
                .map((rs, ctx) -> new Row(rs.getString("key_id"), rs.getString("csrf_token")))
                .findOne());
        return row.flatMap(r -> keys.usable(r.keyId()).map(p -> new Session(id, p, r.csrf())));
    }

    /**
     * The sessions among {@code ids} that have ended: signed out (on any server sharing the
     * database), signed in again, or expired. Whether their keys can still be used is the keys' own
     * check.
     */
    @Override
    public Set<String> ended(Collection<String> ids) {
        if (ids.isEmpty()) {
            return Set.of();
        }
        Set<String> live = new HashSet<>(db.withHandle(h -> h.createQuery(
                        "SELECT token_hash FROM dashboard_sessions WHERE token_hash IN (<ids>) AND expires_at > :now")
                .bindList("ids", List.copyOf(ids))
                .bind("now", clock.millis())
                .mapTo(String.class)
                .list()));
        Set<String> ended = new HashSet<>(ids);
        ended.removeAll(live);
        return ended;
    }

    /** Ends the session behind {@code token}, if there is one, and tells the sign-out listeners its id. */
    public void signOut(String token) {
        if (token != null && !token.isEmpty()) {
            String id = Digests.sha256Hex(token);
            db.execute("DELETE FROM dashboard_sessions WHERE token_hash = ?", id);
            signOutListeners.forEach(listener -> listener.accept(id));
        }
    }

    /** Calls {@code listener} with the id of every session signed out on this server, after the fact. */
    @Override
    public void onSignOut(Consumer<String> listener) {
        signOutListeners.add(listener);
    }

    private static String randomToken() {
        byte[] bytes = new byte[32];
        RANDOM.nextBytes(bytes);
        return Base64.getUrlEncoder().withoutPadding().encodeToString(bytes);
    }
}
