package dev.karta.server.projects;

import static dev.karta.server.store.Rows.instant;

import dev.karta.server.store.Database;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.List;
import java.util.Optional;
import org.jdbi.v3.core.Handle;

/** SQL of the {@code projects} table. Every lookup is scoped by org. */
public final class ProjectStore {
    private static final String SELECT = """
            SELECT p.id, p.org_id, p.name, p.deploy_branch, p.created_at, p.current_release_id,
                   p.repo_url, p.repo_branch, r.number AS current_number, r.commit_sha AS current_commit,
                   pin.number AS pinned_number, p.pinned_by, p.pinned_at
            FROM projects p LEFT JOIN releases r ON r.id = p.current_release_id
                            LEFT JOIN releases pin ON pin.id = p.pinned_release_id
            """;

    private final Database db;

    public ProjectStore(Database db) {
        this.db = db;
    }

    /**
     * Takes the project's row lock until the transaction ends, so that per-project counters read
     * as {@code max + 1} (deploy order, release numbers) cannot be read twice. A no-op UPDATE locks
     * the row on PostgreSQL and takes the write lock on SQLite, with the same SQL.
     */
    public static void lock(Handle h, String projectId) {
        h.execute("UPDATE projects SET id = id WHERE id = ?", projectId);
    }

    long countInOrg(Handle h, String orgId) {
        return h.createQuery("SELECT COUNT(*) FROM projects WHERE org_id = :org")
                .bind("org", orgId)
                .mapTo(Long.class)
                .one();
    }

    void insert(Handle h, String id, String orgId, String name, long createdAt) {
        h.createUpdate("INSERT INTO projects (id, org_id, name, deploy_branch, created_at) "
                        + "VALUES (:id, :org, :name, 'main', :at)")
                .bind("id", id)
                .bind("org", orgId)
                .bind("name", name)
                .bind("at", createdAt)
                .execute();
    }

    public Optional<ProjectRecord> find(Handle h, String orgId, String name) {
        return h.createQuery(SELECT + " WHERE p.org_id = :org AND p.name = :name")
                .bind("org", orgId)
                .bind("name", name)
                .map((rs, ctx) -> map(rs))
                .findOne();
    }

    /**
     * The project named {@code name} in the org, read under its row lock ({@link #lock}), which the
     * caller's transaction holds from here on; empty when there is none.
     */
    public Optional<ProjectRecord> locked(Handle h, String orgId, String name) {
        if (h.execute("UPDATE projects SET id = id WHERE org_id = ? AND name = ?", orgId, name) == 0) {
            return Optional.empty();
        }
        return find(h, orgId, name);
    }

    public Optional<ProjectRecord> find(String orgId, String name) {
        return db.withHandle(h -> find(h, orgId, name));
    }

    /** Looks a project up by id alone: for workers acting on behalf of an already-checked request. */
    public Optional<ProjectRecord> byId(Handle h, String id) {
        return h.createQuery(SELECT + " WHERE p.id = :id")
                .bind("id", id)
                .map((rs, ctx) -> map(rs))
                .findOne();
    }

    public Optional<ProjectRecord> byId(String id) {
        return db.withHandle(h -> byId(h, id));
    }

    List<ProjectRecord> list(String orgId) {
        return db.withHandle(h -> h.createQuery(SELECT + " WHERE p.org_id = :org ORDER BY p.name")
                .bind("org", orgId)
                .map((rs, ctx) -> map(rs))
                .list());
    }

    /**
     * Sets (or, with a null url, clears) the repository binding the API shows. {@code url} is the
     * display form: never one with credentials.
     */
    public void bindRepo(Handle h, String id, String url, String branch) {
        h.execute("UPDATE projects SET repo_url = ?, repo_branch = ? WHERE id = ?", url, branch, id);
    }

    void delete(Handle h, String id) {
        h.execute("UPDATE projects SET current_release_id = NULL, pinned_release_id = NULL WHERE id = ?", id);
        h.execute("DELETE FROM projects WHERE id = ?", id);
    }

    private static ProjectRecord map(ResultSet rs) throws SQLException {
        int number = rs.getInt("current_number");
        Integer current = rs.wasNull() ? null : number;
        int pinnedNumber = rs.getInt("pinned_number");
        Integer pinned = rs.wasNull() ? null : pinnedNumber;
        return new ProjectRecord(
                rs.getString("id"),
                rs.getString("org_id"),
                rs.getString("name"),
                rs.getString("deploy_branch"),
                instant(rs, "created_at"),
                rs.getString("current_release_id"),
                current,
                rs.getString("current_commit"),
                rs.getString("repo_url"),
                rs.getString("repo_branch"),
                pinned,
                pinned == null ? null : rs.getString("pinned_by"),
                pinned == null ? null : instant(rs, "pinned_at"));
    }
}
