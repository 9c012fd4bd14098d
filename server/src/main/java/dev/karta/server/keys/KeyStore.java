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
                   k.created_at, k.last_used_at, k.revoked_at, k.expires_at, k.project_id,
                   p.name AS project_name, k.project_name AS project_name_at_creation
            FROM api_keys k JOIN orgs o ON o.id = k.org_id
            LEFT JOIN projects p ON p.id = k.project_id AND p.org_id = k.org_id
            """;

    private final Database db;

    KeyStore(Database db) {
        this.db = db;
    }

    void insert(Handle h, StoredKey key) {
        h.createUpdate("""
                        INSERT INTO api_keys (id, org_id, name, scope, prefix, digest, created_at, expires_at,
                                              project_id, project_name)
                        VALUES (:id, :org, :name, :scope, :prefix, :digest, :created, :expires, :project,
                                :project_name)
                        """)
                .bind("id", key.id())
                .bind("org", key.orgId())
                .bind("name", key.name())
                .bind("scope", key.scope().wireName())
                .bind("prefix", key.prefix())
                .bind("digest", key.digest())
                .bind("created", key.createdAt().toEpochMilli())
                .bind("expires", key.expiresAt() == null ? null : key.expiresAt().toEpochMilli())
                .bind("project", key.projectId())
                .bind("project_name", key.projectNameAtCreation())
                .execute();
    }

    Optional<StoredKey> byPrefix(String prefix) {
        return db.withHandle(h -> h.createQuery(SELECT + " WHERE k.prefix = :prefix")
                .bind("prefix", prefix)
                .map((rs, ctx) -> map(rs))
                .findOne());
    }

    Optional<StoredKey> byId(String id) {
        return db.withHandle(h -> h.createQuery(SELECT + " WHERE k.id = :id")
                .bind("id", id)
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

    /** The ids among {@code ids} of keys that exist, are not revoked and have not expired at {@code now}. */
    Set<String> usable(Collection<String> ids, Instant now) {
        Set<String> usable = new HashSet<>();
        List<String> all = List.copyOf(ids);
        for (int from = 0; from < all.size(); from += 500) {
            List<String> chunk = all.subList(from, Math.min(all.size(), from + 500));
            usable.addAll(db.withHandle(h -> h.createQuery(
                            "SELECT id FROM api_keys WHERE revoked_at IS NULL AND id IN (<ids>)"
                                    + " AND (expires_at IS NULL OR expires_at > :now)")
                    .bindList("ids", chunk)
                    .bind("now", now.toEpochMilli())
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

    /** The ids of the keys restricted to project {@code projectId} and not revoked. */
    List<String> unrevokedOfProject(Handle h, String projectId) {
        return h.createQuery("SELECT id FROM api_keys WHERE project_id = :project AND revoked_at IS NULL ORDER BY id")
                .bind("project", projectId)
                .mapTo(String.class)
                .list();
    }

    /**
     * Records a use of the key at {@code at}, unless one at or after {@code notBefore} is recorded
     * already (by this server or another): the condition is what bounds the writes of all servers
     * together. Answers whether the row changed.
     */
    boolean touch(String id, Instant at, Instant notBefore) {
        return db.execute("UPDATE api_keys SET last_used_at = ? WHERE id = ? AND (last_used_at IS NULL OR last_used_at < ?)",
                at.toEpochMilli(), id, notBefore.toEpochMilli()) > 0;
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
                instant(rs, "revoked_at"),
                instant(rs, "expires_at"),
                rs.getString("project_id"),
                rs.getString("project_name"),
                rs.getString("project_name_at_creation"));
    }
}
