package dev.karta.server.deploys;

import static dev.karta.server.store.Rows.instant;

import dev.karta.server.projects.ProjectStore;
import dev.karta.server.store.Database;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.List;
import java.util.Optional;
import org.jdbi.v3.core.Handle;

/** SQL of the {@code deploys} table: the persistent build queue. */
public final class DeployStore {
    private static final String SELECT = """
            SELECT d.*, p.name AS project_name, p.org_id AS org_id, v.name AS preview_name
            FROM deploys d JOIN projects p ON p.id = d.project_id LEFT JOIN previews v ON v.id = d.preview_id
            """;

    private final Database db;

    public DeployStore(Database db) {
        this.db = db;
    }

    /**
     * Inserts a queued deploy with the next acceptance number of its project and supersedes the
     * project's older deploys that have not started.
     */
    public DeployRecord enqueue(Handle h, String id, String projectId, String commitSha, DeploySource source,
                         String artifact, String contentDigest, String actorKeyId, String trigger,
                         String idempotencyKey, long now) {
        return enqueue(h, id, projectId, null, commitSha, source, artifact, contentDigest, actorKeyId, trigger,
                idempotencyKey, now);
    }

    /**
     * Like {@link #enqueue(Handle, String, String, String, DeploySource, String, String, String, String, String, long)}
     * for the line {@code previewId} (null: production): only older queued deploys of the same line
     * are superseded, so a preview build never supersedes a production deploy, nor the other way.
     */
    public DeployRecord enqueue(Handle h, String id, String projectId, String previewId, String commitSha,
                                DeploySource source, String artifact, String contentDigest, String actorKeyId,
                                String trigger, String idempotencyKey, long now) {
        ProjectStore.lock(h, projectId);
        long seq = h.createQuery("SELECT COALESCE(MAX(seq), 0) + 1 FROM deploys WHERE project_id = :p")
                .bind("p", projectId).mapTo(Long.class).one();
        h.createUpdate("""
                        INSERT INTO deploys (id, project_id, seq, commit_sha, source, status, artifact, content_digest,
                                             actor_key_id, triggered_by, idempotency_key, created_at, preview_id)
                        VALUES (:id, :p, :seq, :sha, :source, 'queued', :artifact, :digest, :actor, :trigger, :idem,
                                :now, :preview)
                        """)
                .bind("preview", previewId)
                .bind("id", id)
                .bind("p", projectId)
                .bind("seq", seq)
                .bind("sha", commitSha)
                .bind("source", source.wireName())
                .bind("artifact", artifact)
                .bind("digest", contentDigest)
                .bind("actor", actorKeyId)
                .bind("trigger", trigger)
                .bind("idem", idempotencyKey)
                .bind("now", now)
                .execute();
        h.createUpdate("""
                        UPDATE deploys SET status = 'superseded', finished_at = :now,
                               error = 'superseded by newer deploy ' || :id
                        WHERE project_id = :p AND status = 'queued' AND seq < :seq
                          AND COALESCE(preview_id, '') = :line
                        """)
                .bind("line", previewId == null ? "" : previewId)
                .bind("now", now)
                .bind("id", id)
                .bind("p", projectId)
                .bind("seq", seq)
                .execute();
        return byId(h, id).orElseThrow();
    }

    /** A queued deploy that may start, and its org. */
    public record Claimable(String deployId, String orgId) {
    }

    /**
     * The oldest queued deploy of a project that has no build running (production deploys before
     * preview builds: a preview never holds a production deploy back), whose org runs fewer than
     * {@code perOrg} builds (counted over the whole database, so across replicas), or empty. An
     * org at its share waits even when workers are idle: a worker it held could not be given back
     * to another org that queues a moment later, and builds cannot be preempted.
     */
    public Optional<Claimable> nextClaimable(Handle h, int perOrg) {
        return h.createQuery("""
                        SELECT d.id, p.org_id FROM deploys d JOIN projects p ON p.id = d.project_id
                        WHERE d.status = 'queued' AND NOT EXISTS (
                            SELECT 1 FROM deploys b WHERE b.project_id = d.project_id AND b.status = 'building')
                        AND (SELECT COUNT(*) FROM deploys b JOIN projects bp ON bp.id = b.project_id
                             WHERE bp.org_id = p.org_id AND b.status = 'building') < :perOrg
                        ORDER BY CASE WHEN d.preview_id IS NULL THEN 0 ELSE 1 END, d.created_at, d.seq LIMIT 1
                        """)
                .bind("perOrg", perOrg)
                .map((rs, ctx) -> new Claimable(rs.getString(1), rs.getString(2)))
                .findOne();
    }

    /**
     * Takes the org's row lock until the transaction ends, so two servers claiming for one org
     * count its running builds one after the other (the same no-op UPDATE as {@code ProjectStore.lock}).
     */
    public void lockOrg(Handle h, String orgId) {
        h.execute("UPDATE orgs SET id = id WHERE id = ?", orgId);
    }

    /** Builds the org runs now, on any server. */
    public int buildingOfOrg(Handle h, String orgId) {
        return h.createQuery("""
                        SELECT COUNT(*) FROM deploys b JOIN projects p ON p.id = b.project_id
                        WHERE p.org_id = :org AND b.status = 'building'
                        """)
                .bind("org", orgId).mapTo(Integer.class).one();
    }

    /** Moves a queued deploy to building with a lease; false when someone else got it first. */
    public boolean claim(Handle h, String id, long now, long leaseUntil) {
        return h.createUpdate("""
                        UPDATE deploys SET status = 'building', started_at = :now, attempts = attempts + 1,
                               lease_until = :lease
                        WHERE id = :id AND status = 'queued'
                        """)
                .bind("now", now).bind("lease", leaseUntil).bind("id", id)
                .execute() == 1;
    }

    /**
     * Extends the lease of {@code attempt} of a building deploy; false when that attempt no longer
     * holds it (it ended, or its lease ran out and another server took the deploy over).
     */
    public boolean renewLease(String id, int attempt, long leaseUntil) {
        return db.execute("UPDATE deploys SET lease_until = ? WHERE id = ? AND status = 'building' AND attempts = ?",
                leaseUntil, id, attempt) == 1;
    }

    /**
     * Locks a building deploy for recovery, inside the caller's transaction, when {@code attempt}
     * is still the one building it and its lease ran out before {@code now}; false when another
     * server recovered it first, renewed it meanwhile, or took it over again. Two servers that
     * recover the same deploy at once thus act one after the other, and the second does nothing.
     */
    public boolean holdExpired(Handle h, String id, int attempt, long now) {
        return h.createUpdate("""
                        UPDATE deploys SET lease_until = lease_until
                        WHERE id = :id AND status = 'building' AND attempts = :attempt AND lease_until < :now
                        """)
                .bind("id", id).bind("attempt", attempt).bind("now", now)
                .execute() == 1;
    }

    public List<DeployRecord> expiredBuilds(Handle h, long now) {
        return h.createQuery(SELECT + " WHERE d.status = 'building' AND d.lease_until < :now")
                .bind("now", now).map((rs, ctx) -> map(rs)).list();
    }

    public boolean hasNewerQueued(Handle h, DeployRecord deploy) {
        return h.createQuery("SELECT COUNT(*) FROM deploys WHERE project_id = :p AND seq > :seq "
                        + "AND COALESCE(preview_id, '') = :line")
                .bind("p", deploy.projectId()).bind("seq", deploy.seq())
                .bind("line", deploy.previewId() == null ? "" : deploy.previewId()).mapTo(Long.class).one() > 0;
    }

    public void requeue(Handle h, String id) {
        h.execute("UPDATE deploys SET status = 'queued', lease_until = NULL WHERE id = ? AND status = 'building'", id);
    }

    /**
     * Records the archive a build stored for a deploy that arrived without one (a push, a webhook,
     * a deploy by commit), as an upload records its archive when it arrives. An archive already
     * recorded stays.
     */
    public void recordArtifact(String id, String artifact) {
        db.execute("UPDATE deploys SET artifact = ? WHERE id = ? AND artifact IS NULL", artifact, id);
    }

    /**
     * Ends {@code attempt} of a building deploy: only the attempt that holds the build may end it,
     * so a server whose lease ran out (and whose deploy another server took over, or queued again)
     * changes nothing any more. Finalizing a deploy that has already ended, or that another
     * attempt now owns, does nothing and returns false.
     */
    public boolean finish(Handle h, String id, int attempt, DeployStatus status, Integer releaseNumber, String error,
                          long now) {
        return h.createUpdate("""
                        UPDATE deploys SET status = :status, release_number = :release, error = :error,
                               finished_at = :now, lease_until = NULL
                        WHERE id = :id AND status = 'building' AND attempts = :attempt
                        """)
                .bind("attempt", attempt)
                .bind("status", status.wireName())
                .bind("release", releaseNumber)
                .bind("error", error)
                .bind("now", now)
                .bind("id", id)
                .execute() == 1;
    }

    /**
     * Queued deploys of an org's projects other than {@code exceptProjectId}: a new deploy of that
     * project supersedes its queued one, so the org's queue grows only by projects.
     */
    public long queuedInOrg(Handle h, String orgId, String exceptProjectId) {
        return h.createQuery("""
                        SELECT COUNT(*) FROM deploys d JOIN projects p ON p.id = d.project_id
                        WHERE p.org_id = :org AND d.status = 'queued' AND d.project_id <> :except
                        """)
                .bind("org", orgId).bind("except", exceptProjectId == null ? "" : exceptProjectId)
                .mapTo(Long.class).one();
    }

    public Optional<DeployRecord> byId(Handle h, String id) {
        return h.createQuery(SELECT + " WHERE d.id = :id").bind("id", id).map((rs, ctx) -> map(rs)).findOne();
    }

    public Optional<DeployRecord> byId(String id) {
        return db.withHandle(h -> byId(h, id));
    }

    /** The newest production deploy (not a preview's) of each project of an org that has one. */
    List<DeployRecord> newestOfOrg(String orgId) {
        return db.withHandle(h -> h.createQuery(SELECT + """
                         WHERE p.org_id = :org AND d.preview_id IS NULL
                         AND d.seq = (SELECT MAX(b.seq) FROM deploys b WHERE b.project_id = d.project_id
                                      AND b.preview_id IS NULL)
                        """)
                .bind("org", orgId).map((rs, ctx) -> map(rs)).list());
    }

    List<DeployRecord> ofProject(String projectId, int limit) {
        return db.withHandle(h -> h.createQuery(SELECT + " WHERE d.project_id = :p ORDER BY d.seq DESC LIMIT :limit")
                .bind("p", projectId).bind("limit", limit).map((rs, ctx) -> map(rs)).list());
    }

    private static DeployRecord map(ResultSet rs) throws SQLException {
        int release = rs.getInt("release_number");
        Integer releaseNumber = rs.wasNull() ? null : release;
        return new DeployRecord(
                rs.getString("id"),
                rs.getString("project_id"),
                rs.getString("project_name"),
                rs.getString("org_id"),
                rs.getLong("seq"),
                rs.getString("commit_sha"),
                DeploySource.parse(rs.getString("source")),
                DeployStatus.parse(rs.getString("status")),
                rs.getString("artifact"),
                rs.getString("content_digest"),
                rs.getString("actor_key_id"),
                releaseNumber,
                rs.getString("error"),
                rs.getInt("attempts"),
                instant(rs, "created_at"),
                instant(rs, "started_at"),
                instant(rs, "finished_at"),
                rs.getString("triggered_by"),
                rs.getString("idempotency_key"),
                rs.getString("preview_id"),
                rs.getString("preview_name"));
    }
}
