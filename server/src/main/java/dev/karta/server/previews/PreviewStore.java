package dev.karta.server.previews;

import static dev.karta.server.store.Rows.instant;

import dev.karta.server.store.Database;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.List;
import java.util.Optional;
import org.jdbi.v3.core.Handle;

/** SQL of the {@code previews} and {@code preview_releases} tables. */
final class PreviewStore {
    private static final String SELECT = """
            SELECT v.*, p.name AS project_name, p.org_id, r.seq AS current_seq,
                   d.id AS deploy_id, d.status AS deploy_status, d.error AS deploy_error
            FROM previews v JOIN projects p ON p.id = v.project_id
            LEFT JOIN preview_releases r ON r.id = v.current_release_id
            LEFT JOIN deploys d ON d.id = (SELECT l.id FROM deploys l WHERE l.preview_id = v.id
                                           ORDER BY l.seq DESC LIMIT 1)
            """;

    /** A preview release's tree and what it was built as. */
    record Built(String id, String previewId, int seq, String commitSha, String harness, String buildKind,
                 String imageRef, String contentDigest, String deployId, String config, String configDigest) {
    }

    private final Database db;

    PreviewStore(Database db) {
        this.db = db;
    }

    Optional<PreviewRecord> find(Handle h, String projectId, String name) {
        return h.createQuery(SELECT + " WHERE v.project_id = :p AND v.name = :n").bind("p", projectId).bind("n", name)
                .map((rs, ctx) -> map(rs)).findOne();
    }

    Optional<PreviewRecord> byId(Handle h, String id) {
        return h.createQuery(SELECT + " WHERE v.id = :id").bind("id", id).map((rs, ctx) -> map(rs)).findOne();
    }

    List<PreviewRecord> ofProject(String projectId) {
        return db.withHandle(h -> h.createQuery(SELECT + " WHERE v.project_id = :p ORDER BY v.last_push_at DESC, v.id DESC")
                .bind("p", projectId).map((rs, ctx) -> map(rs)).list());
    }

    void insert(Handle h, String id, String projectId, String name, int number, String commitSha, String origin,
                long now, long expiresAt) {
        h.createUpdate("""
                        INSERT INTO previews (id, project_id, name, pr_number, commit_sha, origin, created_at,
                                              last_push_at, expires_at)
                        VALUES (:id, :p, :name, :n, :sha, :origin, :now, :now, :expires)
                        """)
                .bind("id", id).bind("p", projectId).bind("name", name).bind("n", number).bind("sha", commitSha)
                .bind("origin", origin).bind("now", now).bind("expires", expiresAt)
                .execute();
    }

    /** A new push: the commit, the push time and the TTL move; an expired preview opens again. */
    void pushed(Handle h, String id, String commitSha, long now, long expiresAt) {
        h.execute("UPDATE previews SET commit_sha = ?, last_push_at = ?, expires_at = ?, expired_at = NULL, "
                + "expire_reason = NULL WHERE id = ?", commitSha, now, expiresAt, id);
    }

    /** Live previews of a project other than {@code exceptId}, the least recently pushed first. */
    List<String> liveOldestFirst(Handle h, String projectId, String exceptId) {
        return h.createQuery("""
                        SELECT id FROM previews WHERE project_id = :p AND expired_at IS NULL AND id <> :except
                        ORDER BY last_push_at, id
                        """)
                .bind("p", projectId).bind("except", exceptId).mapTo(String.class).list();
    }

    /**
     * Marks a live preview expired; false when it already was (another server, or an earlier
     * request, expired it first). Its queued builds are canceled in the same statement batch.
     */
    boolean expire(Handle h, String id, String reason, long now) {
        if (h.execute("UPDATE previews SET expired_at = ?, expire_reason = ? WHERE id = ? AND expired_at IS NULL",
                now, reason, id) != 1) {
            return false;
        }
        h.execute("UPDATE deploys SET status = 'canceled', finished_at = ?, error = ? WHERE preview_id = ? "
                + "AND status = 'queued'", now, "preview expired (" + reason + ")", id);
        return true;
    }

    /** Live previews past their expiry time, on any project. */
    List<String> pastTtl(Handle h, long now) {
        return h.createQuery("SELECT id FROM previews WHERE expired_at IS NULL AND expires_at <= :now")
                .bind("now", now).mapTo(String.class).list();
    }

    int nextSeq(Handle h, String previewId) {
        return h.createQuery("SELECT COALESCE(MAX(seq), 0) + 1 FROM preview_releases WHERE preview_id = :v")
                .bind("v", previewId).mapTo(Integer.class).one();
    }

    void insertRelease(Handle h, Built b, long now) {
        h.createUpdate("""
                        INSERT INTO preview_releases (id, preview_id, project_id, seq, commit_sha, harness, build_kind,
                                                      image_ref, content_digest, deploy_id, config, config_digest,
                                                      created_at)
                        VALUES (:id, :v, (SELECT project_id FROM previews WHERE id = :v), :seq, :sha, :harness, :kind,
                                :image, :digest, :deploy, :config, :config_digest, :now)
                        """)
                .bind("id", b.id()).bind("v", b.previewId()).bind("seq", b.seq()).bind("sha", b.commitSha())
                .bind("harness", b.harness()).bind("kind", b.buildKind()).bind("image", b.imageRef())
                .bind("digest", b.contentDigest()).bind("deploy", b.deployId()).bind("config", b.config())
                .bind("config_digest", b.configDigest()).bind("now", now)
                .execute();
        h.execute("UPDATE previews SET current_release_id = ? WHERE id = ?", b.id(), b.previewId());
    }

    Optional<Built> release(Handle h, String id) {
        return h.createQuery("SELECT * FROM preview_releases WHERE id = :id").bind("id", id)
                .map((rs, ctx) -> new Built(rs.getString("id"), rs.getString("preview_id"), rs.getInt("seq"),
                        rs.getString("commit_sha"), rs.getString("harness"), rs.getString("build_kind"),
                        rs.getString("image_ref"), rs.getString("content_digest"), rs.getString("deploy_id"),
                        rs.getString("config"), rs.getString("config_digest")))
                .findOne();
    }

    /**
     * Marks released the trees of expired previews' releases that no session still running or idle
     * runs, and answers their digests (for retention to take away).
     */
    List<String> releaseExpired(Handle h, long now) {
        List<String> ids = h.createQuery("""
                        SELECT r.id FROM preview_releases r JOIN previews v ON v.id = r.preview_id
                        WHERE v.expired_at IS NOT NULL AND r.released_at IS NULL AND NOT EXISTS (
                            SELECT 1 FROM sessions s WHERE s.preview_release_id = r.id
                                                     AND s.status IN ('idle', 'running'))
                        """).mapTo(String.class).list();
        if (ids.isEmpty()) {
            return List.of();
        }
        List<String> digests = h.createQuery("SELECT DISTINCT content_digest FROM preview_releases WHERE id IN (<ids>)")
                .bindList("ids", ids).mapTo(String.class).list();
        h.createUpdate("UPDATE preview_releases SET released_at = :now WHERE id IN (<ids>) AND released_at IS NULL")
                .bind("now", now).bindList("ids", ids).execute();
        return digests;
    }

    private static PreviewRecord map(ResultSet rs) throws SQLException {
        int seq = rs.getInt("current_seq");
        Integer currentSeq = rs.wasNull() ? null : seq;
        return new PreviewRecord(
                rs.getString("id"),
                rs.getString("project_id"),
                rs.getString("project_name"),
                rs.getString("org_id"),
                rs.getString("name"),
                rs.getInt("pr_number"),
                rs.getString("commit_sha"),
                rs.getString("current_release_id"),
                currentSeq,
                rs.getString("origin"),
                instant(rs, "created_at"),
                instant(rs, "last_push_at"),
                instant(rs, "expires_at"),
                instant(rs, "expired_at"),
                rs.getString("expire_reason"),
                rs.getString("deploy_id"),
                rs.getString("deploy_status"),
                rs.getString("deploy_error"));
    }
}
