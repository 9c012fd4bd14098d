package dev.karta.server.keys;

import static dev.karta.server.store.Rows.instant;

import dev.karta.server.http.Scope;
import dev.karta.server.store.Database;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Instant;
import java.util.Collection;
import java.util.HashSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import org.jdbi.v3.core.Handle;

/** SQL of the {@code api_keys} table. */
final class KeyStore {
    private static final String SELECT = """
            SELECT k.id, k.org_id, o.name AS org_name, k.name, k.scope, k.prefix, k.digest,
                   k.created_at, k.last_used_at, k.revoked_at
            FROM api_keys k JOIN orgs o ON o.id = k.org_id
            """;

    private final Database db;

    KeyStore(Database db) {
        this.db = db;
    }

    void insert(Handle h, StoredKey key) {
        h.createUpdate("""
                        INSERT INTO api_keys (id, org_id, name, scope, prefix, digest, created_at)
                        VALUES (:id, :org, :name, :scope, :prefix, :digest, :created)
                        """)
                .bind("id", key.id())
                .bind("org", key.orgId())
                .bind("name", key.name())
                .bind("scope", key.scope().wireName())
                .bind("prefix", key.prefix())
                .bind("digest", key.digest())
                .bind("created", key.createdAt().toEpochMilli())
                .execute();
    }

    Optional<StoredKey> byPrefix(String prefix) {
        return db.withHandle(h -> h.createQuery(SELECT + " WHERE k.prefix = :prefix")
                .bind("prefix", prefix)
                .map((rs, ctx) -> map(rs))
                .findOne());
    }

    Optional<StoredKey> byId(Handle h, String orgId, String id) {
        return h.createQuery(SELECT + " WHERE k.org_id = :org AND k.id = :id")
                .bind("org", orgId)
                .bind("id", id)
                .map((rs, ctx) -> map(rs))
                .findOne();
    }

    List<StoredKey> list(String orgId) {
        return db.withHandle(h -> h.createQuery(SELECT + " WHERE k.org_id = :org ORDER BY k.created_at, k.id")
                .bind("org", orgId)
                .map((rs, ctx) -> map(rs))
                .list());
    }

    /** The ids among {@code ids} of keys that exist and are not revoked. */
    Set<String> usable(Collection<String> ids) {
        Set<String> usable = new HashSet<>();
        List<String> all = List.copyOf(ids);
        for (int from = 0; from < all.size(); from += 500) {
            List<String> chunk = all.subList(from, Math.min(all.size(), from + 500));
            usable.addAll(db.withHandle(h -> h.createQuery(
                            "SELECT id FROM api_keys WHERE revoked_at IS NULL AND id IN (<ids>)")
                    .bindList("ids", chunk)
                    .mapTo(String.class)
                    .list()));
        }
        return usable;
    }

    void revoke(Handle h, String id, Instant at) {
        h.createUpdate("UPDATE api_keys SET revoked_at = :at WHERE id = :id AND revoked_at IS NULL")
                .bind("at", at.toEpochMilli())
                .bind("id", id)
                .execute();
    }

    void touch(String id, Instant at) {
        db.execute("UPDATE api_keys SET last_used_at = ? WHERE id = ?", at.toEpochMilli(), id);
    }

    private static StoredKey map(ResultSet rs) throws SQLException {
        return new StoredKey(
                rs.getString("id"),
                rs.getString("org_id"),
                rs.getString("org_name"),
                rs.getString("name"),
                Scope.parse(rs.getString("scope")),
                rs.getString("prefix"),
                rs.getString("digest"),
                instant(rs, "created_at"),
                instant(rs, "last_used_at"),
                instant(rs, "revoked_at"));
    }
}
