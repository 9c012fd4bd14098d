package dev.karta.server.ci;

import dev.karta.api.CiTrust;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Instant;
import java.util.List;
import java.util.Optional;
import org.jdbi.v3.core.Handle;

/**
 * SQL of the {@code ci_trusts} table. An empty {@code environment} column means "any environment,
 * or none" (so that the unique index compares it); the wire form shows it as null.
 */
final class CiTrustStore {
    private static final String SELECT = """
            SELECT t.id, t.org_id, t.project_id, p.name AS project_name, t.provider, t.repository, t.ref,
                   t.environment, t.created_at
            FROM ci_trusts t JOIN projects p ON p.id = t.project_id
            """;

    /** A trust as stored, with its project's org and name. */
    record Row(String id, String orgId, String projectId, String projectName, String provider, String repository,
               String ref, String environment, long createdAt) {
        CiTrust toWire() {
            return new CiTrust(id, projectName, provider, repository, ref, environment.isEmpty() ? null : environment,
                    Instant.ofEpochMilli(createdAt));
        }
    }

    void insert(Handle h, Row row, String createdBy) {
        h.createUpdate("""
                        INSERT INTO ci_trusts (id, org_id, project_id, provider, repository, ref, environment,
                                               created_by, created_at)
                        VALUES (:id, :org, :project, :provider, :repository, :ref, :environment, :by, :at)
                        """)
                .bind("id", row.id()).bind("org", row.orgId()).bind("project", row.projectId())
                .bind("provider", row.provider()).bind("repository", row.repository()).bind("ref", row.ref())
                .bind("environment", row.environment()).bind("by", createdBy).bind("at", row.createdAt())
                .execute();
    }

    int count(Handle h, String projectId) {
        return h.createQuery("SELECT COUNT(*) FROM ci_trusts WHERE project_id = :project")
                .bind("project", projectId).mapTo(Integer.class).one();
    }

    List<Row> list(Handle h, String projectId) {
        return h.createQuery(SELECT + " WHERE t.project_id = :project ORDER BY t.created_at, t.id")
                .bind("project", projectId).map((rs, ctx) -> row(rs)).list();
    }

    Optional<Row> find(Handle h, String projectId, String id) {
        return h.createQuery(SELECT + " WHERE t.project_id = :project AND t.id = :id")
                .bind("project", projectId).bind("id", id).map((rs, ctx) -> row(rs)).findOne();
    }

    void delete(Handle h, String id) {
        h.execute("DELETE FROM ci_trusts WHERE id = ?", id);
    }

    /**
     * The first trust (oldest) of project {@code projectName} (of org {@code orgName}, when that is
     * not null) that accepts a GitHub workflow of {@code repository} (lower case) on {@code ref} in
     * {@code environment} (lower case; null when the job has none). Only trusts are matched: a
     * project without one is not told apart from a missing project.
     */
    Optional<Row> match(Handle h, String orgName, String projectName, String repository, String ref,
                        String environment) {
        var query = h.createQuery(SELECT + " JOIN orgs o ON o.id = t.org_id"
                        + " WHERE p.name = :name" + (orgName == null ? "" : " AND o.name = :org")
                        + " AND t.provider = 'github'"
                        + " AND t.repository = :repository AND t.ref = :ref"
                        + " AND (t.environment = '' OR LOWER(t.environment) = :environment)"
                        + " ORDER BY t.created_at, t.id LIMIT 1");
        if (orgName != null) {
            query.bind("org", orgName);
        }
        return query.bind("name", projectName).bind("repository", repository).bind("ref", ref)
                .bind("environment", environment == null ? "" : environment)
                .map((rs, ctx) -> row(rs)).findOne();
    }

    private static Row row(ResultSet rs) throws SQLException {
        return new Row(rs.getString("id"), rs.getString("org_id"), rs.getString("project_id"),
                rs.getString("project_name"), rs.getString("provider"), rs.getString("repository"),
                rs.getString("ref"), rs.getString("environment"), rs.getLong("created_at"));
    }
}
