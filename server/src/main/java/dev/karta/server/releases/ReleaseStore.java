package dev.karta.server.releases;

import static dev.karta.server.store.Rows.instant;
import static dev.karta.server.store.Rows.millis;

import dev.karta.server.ledger.Chains;
import dev.karta.server.ledger.Ledger;
import dev.karta.server.projects.ProjectStore;
import dev.karta.server.store.Database;
import dev.karta.server.store.Dialect;
import dev.karta.server.store.Notifications;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import org.jdbi.v3.core.Handle;

/** SQL of the {@code releases} table and of the project's release pointer. */
public final class ReleaseStore {
    /** Where a release that became active is announced (its id) to the other servers sharing the database. */
    public static final String ACTIVATIONS = "karta_release_activations";

    private final Database db;
    private final Notifications notifications;

    /** Announcing each activation on {@code notifications}. */
    public ReleaseStore(Database db, Notifications notifications) {
        this.db = db;
        this.notifications = notifications;
    }

    int nextNumber(Handle h, String projectId) {
        ProjectStore.lock(h, projectId);
        return h.createQuery("SELECT COALESCE(MAX(number), 0) + 1 FROM releases WHERE project_id = :p")
                .bind("p", projectId).mapTo(Integer.class).one();
    }

    /**
     * Inserts {@code r} with its config vars, {@code config} (whose digest {@code r} carries),
     * chained to the project's previous release, under the project's row lock (taken here too, so
     * that no other release of the project is appended meanwhile), and returns it with its
     * {@code prevHash} and {@code hash}.
     */
    ReleaseRecord insert(Handle h, ReleaseRecord r, SealedConfig config) {
        if (!Objects.equals(config.digest(), r.configDigest())) {
            throw new IllegalArgumentException("release " + r.version() + " and its config disagree");
        }
        ProjectStore.lock(h, r.projectId());
        String prev = Chains.releaseHead(h, r.projectId());
        Map<String, Object> fields = new HashMap<>();
        fields.put("id", r.id());
        fields.put("project_id", r.projectId());
        fields.put("number", (long) r.number());
        fields.put("commit_sha", r.commitSha());
        fields.put("harness", r.harness());
        fields.put("build_kind", r.buildKind());
        fields.put("image_ref", r.imageRef());
        fields.put("content_digest", r.contentDigest());
        fields.put("source", r.source());
        fields.put("deploy_id", r.deployId());
        fields.put("created_at", Ledger.time(r.createdAt().toEpochMilli()));
        fields.put("trigger", r.trigger());
        fields.put("actor_key_id", r.actorKeyId());
        fields.put("idempotency_key", r.idempotencyKey());
        fields.put("config_digest", r.configDigest());
        fields.put("description", r.description());
        ReleaseRecord chained = r.chained(prev, Ledger.hash(Ledger.entry(Ledger.RELEASE, fields, prev)));
        h.createUpdate("""
                        INSERT INTO releases (id, project_id, number, commit_sha, harness, build_kind, image_ref,
                                              content_digest, source, deploy_id, created_at, activated_at,
                                              triggered_by, actor_key_id, idempotency_key, config, config_digest,
                                              description, prev_hash, hash)
                        VALUES (:id, :p, :number, :sha, :harness, :kind, :image, :digest, :source, :deploy, :created,
                                :activated, :trigger, :actor, :idem, :config, :config_digest, :description, :prev, :hash)
                        """)
                .bind("id", r.id())
                .bind("p", r.projectId())
                .bind("number", r.number())
                .bind("sha", r.commitSha())
                .bind("harness", r.harness())
                .bind("kind", r.buildKind())
                .bind("image", r.imageRef())
                .bind("digest", r.contentDigest())
                .bind("source", r.source())
                .bind("deploy", r.deployId())
                .bind("created", r.createdAt().toEpochMilli())
                .bind("activated", millis(r.activatedAt()))
                .bind("trigger", r.trigger())
                .bind("actor", r.actorKeyId())
                .bind("idem", r.idempotencyKey())
                .bind("config", config.sealed())
                .bind("config_digest", config.digest())
                .bind("description", r.description())
                .bind("prev", chained.prevHash())
                .bind("hash", chained.hash())
                .execute();
        return chained;
    }

    /**
     * Serializes, until the transaction ends, everything that decides whether the tree of
     * {@code contentDigest} is in use or gone: retention deleting it and an activation starting to
     * use it, across projects (trees are shared by content). SQLite needs nothing more: its
     * transactions begin IMMEDIATE, one writer at a time. PostgreSQL takes a transaction-scoped
     * advisory lock named after the digest.
     */
    public static void lockTree(Handle h, Dialect dialect, String contentDigest) {
        if (dialect == Dialect.POSTGRES) {
            h.select("SELECT 1 FROM (SELECT pg_advisory_xact_lock(hashtext(?))) locked", contentDigest)
                    .mapTo(Integer.class).one();
        }
    }

    /**
     * The one place a project's pointer moves (a build's activation, a rollback, a config change,
     * an explicit activation, an unpin): points the project at {@code releaseId} and stamps the
     * times, the release that stops being active with {@code deactivated_at}, the new one with
     * {@code activated_at}. The release's config vars become the project's current config with it,
     * so rolling back to v3 brings back v3's config. The caller holds the project's lock. The
     * other servers hear of it at commit ({@link #ACTIVATIONS}), and fetch the release's files
     * ahead of its sessions.
     */
    void point(Handle h, String projectId, String releaseId) {
        long now = System.currentTimeMillis();
        h.execute("UPDATE releases SET deactivated_at = ? WHERE id = (SELECT current_release_id FROM projects "
                + "WHERE id = ?) AND id <> ?", now, projectId, releaseId);
        h.execute("UPDATE releases SET activated_at = ?, deactivated_at = NULL WHERE id = ?", now, releaseId);
        h.execute("""
                UPDATE projects SET current_release_id = ?,
                                    config = (SELECT config FROM releases WHERE id = ?),
                                    config_digest = (SELECT config_digest FROM releases WHERE id = ?)
                WHERE id = ?""", releaseId, releaseId, releaseId, projectId);
        notifications.send(h, ACTIVATIONS, releaseId);
    }

    /** The project's current config vars (what its next release snapshots), sealed. */
    public static SealedConfig projectConfig(Handle h, String projectId) {
        return h.createQuery("SELECT config, config_digest FROM projects WHERE id = :p").bind("p", projectId)
                .map((rs, ctx) -> new SealedConfig(rs.getString("config"), rs.getString("config_digest")))
                .findOne().orElse(SealedConfig.EMPTY);
    }

    /** Sets the project's current config vars; only for a project that has no release yet. */
    public static void setProjectConfig(Handle h, String projectId, SealedConfig config) {
        h.execute("UPDATE projects SET config = ?, config_digest = ? WHERE id = ?", config.sealed(), config.digest(),
                projectId);
    }

    /**
     * The config vars release {@code releaseId} runs with, sealed; a preview release's id names the
     * config it snapshot when its build finished.
     */
    public SealedConfig releaseConfig(String releaseId) {
        return db.withHandle(h -> h.createQuery("SELECT config, config_digest FROM releases WHERE id = :id "
                        + "UNION ALL SELECT config, config_digest FROM preview_releases WHERE id = :id")
                .bind("id", releaseId)
                .map((rs, ctx) -> new SealedConfig(rs.getString("config"), rs.getString("config_digest")))
                .findOne().orElse(SealedConfig.EMPTY));
    }

    /** Pins the project to {@code releaseId} (the one it now serves); {@code by} is the key that pinned. */
    void pin(Handle h, String projectId, String releaseId, String by) {
        h.execute("UPDATE projects SET pinned_release_id = ?, pinned_by = ?, pinned_at = ? WHERE id = ?",
                releaseId, by, System.currentTimeMillis(), projectId);
    }

    void unpin(Handle h, String projectId) {
        h.execute("UPDATE projects SET pinned_release_id = NULL, pinned_by = NULL, pinned_at = NULL WHERE id = ?",
                projectId);
    }

    /** The project's release with the highest number. */
    Optional<ReleaseRecord> newest(Handle h, String projectId) {
        return h.createQuery("SELECT * FROM releases WHERE project_id = :p ORDER BY number DESC LIMIT 1")
                .bind("p", projectId).map((rs, ctx) -> map(rs)).findOne();
    }

    public Optional<ReleaseRecord> byNumber(Handle h, String projectId, int number) {
        return h.createQuery("SELECT * FROM releases WHERE project_id = :p AND number = :n")
                .bind("p", projectId).bind("n", number).map((rs, ctx) -> map(rs)).findOne();
    }

    public Optional<ReleaseRecord> byId(Handle h, String id) {
        return h.createQuery("SELECT * FROM releases WHERE id = :id").bind("id", id).map((rs, ctx) -> map(rs)).findOne();
    }

    public Optional<ReleaseRecord> byId(String id) {
        return db.withHandle(h -> byId(h, id));
    }

    List<ReleaseRecord> ofProject(String projectId) {
        return db.withHandle(h -> h.createQuery("SELECT * FROM releases WHERE project_id = :p ORDER BY number DESC")
                .bind("p", projectId).map((rs, ctx) -> map(rs)).list());
    }

    private static ReleaseRecord map(ResultSet rs) throws SQLException {
        return new ReleaseRecord(
                rs.getString("id"),
                rs.getString("project_id"),
                rs.getInt("number"),
                rs.getString("commit_sha"),
                rs.getString("harness"),
                rs.getString("build_kind"),
                rs.getString("image_ref"),
                rs.getString("content_digest"),
                rs.getString("source"),
                rs.getString("deploy_id"),
                instant(rs, "created_at"),
                instant(rs, "activated_at"),
                instant(rs, "deactivated_at"),
                instant(rs, "pruned_at"),
                rs.getString("triggered_by"),
                rs.getString("actor_key_id"),
                rs.getString("idempotency_key"),
                rs.getString("config_digest"),
                rs.getString("description"),
                rs.getString("prev_hash"),
                rs.getString("hash"));
    }
}
