package dev.karta.server.repos;

import static dev.karta.server.store.Rows.instant;

import dev.karta.server.audit.AuditLog;
import dev.karta.server.http.Actor;
import dev.karta.server.http.ApiError;
import dev.karta.server.logs.LogSource;
import dev.karta.server.logs.LogStore;
import dev.karta.server.projects.ProjectRecord;
import dev.karta.server.projects.ProjectStore;
import dev.karta.server.store.Database;
import dev.karta.server.store.Digests;
import dev.karta.server.store.SecretBox;
import java.net.URLDecoder;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.security.SecureRandom;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Instant;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.jdbi.v3.core.Handle;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Repository bindings: which repository and branch a project deploys from, and the secret its
 * webhook deliveries are signed with. A project has at most one binding; binding again replaces
 * it (and its secret). The secret is encrypted with the {@link SecretBox}, not hashed, because
 * verifying an HMAC needs it; it is shown once, when it is issued. A binding's credential (a token,
 * or the user and password of its URL, which are split out of the stored URL) is encrypted the
 * same way and never shown. Projects of another org look unbound-and-missing (404).
 */
public final class Bindings {
    private static final Logger LOG = LoggerFactory.getLogger(Bindings.class);
    private static final SecureRandom RANDOM = new SecureRandom();
    private static final String SELECT = """
            SELECT b.project_id, b.fetch_url, b.webhook_secret, b.credentials, b.created_at, b.secret_rotated_at,
                   b.previews_from_forks, p.org_id, p.name, p.repo_branch
            FROM repo_bindings b JOIN projects p ON p.id = b.project_id
            """;

    /**
     * One project's binding: {@code url} holds no credentials, {@code credentials} (or null) are
     * the binding's own. {@code previewsFromForks}: pull requests whose head is in another
     * repository build previews too. {@link #toString()} shows neither the secret nor the credentials.
     */
    public record Binding(String projectId, String orgId, String projectName, RepoUrl url, String branch, String secret,
                   RepoUrl.Credentials credentials, Instant createdAt, Instant secretRotatedAt,
                   boolean previewsFromForks) {
        @Override
        public String toString() {
            return "Binding[" + projectName + " " + url + " branch " + branch + "]";
        }
    }

    private final Database db;
    private final ProjectStore projects;
    private final AuditLog audit;
    private final LogStore logs;
    private final SecretBox box;

    public Bindings(Database db, ProjectStore projects, AuditLog audit, LogStore logs, SecretBox box) {
        this.db = db;
        this.projects = projects;
        this.audit = audit;
        this.logs = logs;
        this.box = box;
    }

    /**
     * Encrypts what earlier versions stored in plain text: webhook secrets, and credentials in
     * bound URLs (split out of the URL). Runs at start; rows already encrypted are left alone.
     */
    public void encryptPlaintext() {
        int changed = db.inTransaction(h -> {
            int rows = 0;
            for (Map<String, Object> row : h.createQuery("SELECT project_id, fetch_url, webhook_secret, credentials "
                    + "FROM repo_bindings").mapToMap().list()) {
                String secret = (String) row.get("webhook_secret");
                String fetchUrl = (String) row.get("fetch_url");
                String credentials = (String) row.get("credentials");
                RepoUrl url = RepoUrl.parse(fetchUrl);
                Optional<RepoUrl.Credentials> inUrl = url.credentials();
                RepoUrl stored = RepoUrl.parse(url.connectUrl());
                if (SecretBox.isSealed(secret) && stored.fetch().equals(fetchUrl)) {
                    continue;
                }
                h.createUpdate("""
                                UPDATE repo_bindings SET fetch_url = :url, kind = :kind, repo_key = :key,
                                       webhook_secret = :secret, credentials = :credentials WHERE project_id = :p
                                """)
                        .bind("url", stored.fetch())
                        .bind("kind", stored.kind().wireName())
                        .bind("key", stored.key())
                        .bind("secret", SecretBox.isSealed(secret) ? secret : box.seal(secret))
                        .bind("credentials", inUrl.map(this::sealCredentials).orElse(credentials))
                        .bind("p", row.get("project_id"))
                        .execute();
                rows++;
            }
            return rows;
        });
        if (changed > 0) {
            LOG.info("encrypted the webhook secrets and repository credentials of {} bound repositories", changed);
        }
    }

    /**
     * Binds (or rebinds) a project of the actor's org; a new secret is issued either way.
     * {@code url} holds no credentials; {@code credentials} (or null) are stored encrypted.
     */
    Binding bind(Actor actor, String projectName, RepoUrl url, RepoUrl.Credentials credentials, String branch,
                 boolean previewsFromForks) {
        Binding bound = db.inTransaction(h -> {
            ProjectRecord project = project(h, actor.orgId(), projectName);
            long now = System.currentTimeMillis();
            h.execute("DELETE FROM repo_bindings WHERE project_id = ?", project.id());
            h.createUpdate("""
                            INSERT INTO repo_bindings (project_id, fetch_url, kind, repo_key, webhook_secret, credentials,
                                                       created_at, secret_rotated_at, previews_from_forks)
                            VALUES (:p, :url, :kind, :key, :secret, :credentials, :now, :now, :forks)
                            """)
                    .bind("forks", previewsFromForks ? 1 : 0)
                    .bind("p", project.id())
                    .bind("url", url.fetch())
                    .bind("kind", url.kind().wireName())
                    .bind("key", url.key())
                    .bind("secret", box.seal(newSecret()))
                    .bind("credentials", credentials == null ? null : sealCredentials(credentials))
                    .bind("now", now)
                    .execute();
            projects.bindRepo(h, project.id(), url.display(), branch);
            audit.append(h, actor, "repo.bind", "project:" + project.name());
            logs.append(h, project.id(), LogSource.SYSTEM, null, null, "Bound to " + url.display() + " (branch '"
                    + branch + "'): pushes to it deploy through the GitHub webhook, and deploys by commit fetch from it");
            return byProject(h, project.id()).orElseThrow();
        });
        logs.bus().publish(bound.projectId());
        return bound;
    }

    /** Removes a project's binding; 404 when the project is unknown or not bound. */
    Binding unbind(Actor actor, String projectName) {
        Binding removed = db.inTransaction(h -> {
            Binding found = require(h, actor.orgId(), projectName);
            h.execute("DELETE FROM repo_bindings WHERE project_id = ?", found.projectId());
            projects.bindRepo(h, found.projectId(), null, null);
            audit.append(h, actor, "repo.unbind", "project:" + found.projectName());
            logs.append(h, found.projectId(), LogSource.SYSTEM, null, null, "Unbound from " + found.url().display()
                    + ": deploys by commit use the project's own git repository again");
            return found;
        });
        logs.bus().publish(removed.projectId());
        return removed;
    }

    /** Issues a new webhook secret; the old one stops verifying at once. */
    Binding rotateSecret(Actor actor, String projectName) {
        return db.inTransaction(h -> {
            Binding found = require(h, actor.orgId(), projectName);
            h.execute("UPDATE repo_bindings SET webhook_secret = ?, secret_rotated_at = ? WHERE project_id = ?",
                    box.seal(newSecret()), System.currentTimeMillis(), found.projectId());
            audit.append(h, actor, "repo.rotate_secret", "project:" + found.projectName());
            return byProject(h, found.projectId()).orElseThrow();
        });
    }

    /** The binding of a project of {@code orgId}; 404 when the project is unknown or not bound. */
    Binding require(String orgId, String projectName) {
        return db.withHandle(h -> require(h, orgId, projectName));
    }

    /** The binding of a project, by id (workers and resolvers act for an already-checked caller). */
    public Optional<Binding> ofProject(String projectId) {
        return db.withHandle(h -> byProject(h, projectId));
    }

    /** Bindings whose webhook key is one of {@code keys}. */
    public List<Binding> matching(Collection<String> keys) {
        if (keys.isEmpty()) {
            return List.of();
        }
        return db.withHandle(h -> h.createQuery(SELECT + " WHERE b.repo_key IN (<keys>) ORDER BY b.project_id")
                .bindList("keys", List.copyOf(keys))
                .map((rs, ctx) -> map(rs))
                .list());
    }

    private Binding require(Handle h, String orgId, String projectName) {
        ProjectRecord project = project(h, orgId, projectName);
        return byProject(h, project.id()).orElseThrow(() -> new ApiError(ApiError.Kind.NOT_FOUND, "not_bound",
                "project '" + projectName + "' is not bound to a repository: bind one with "
                        + "PUT /agent_projects/" + projectName + "/repo (karta repo bind " + projectName + " URL)"));
    }

    private ProjectRecord project(Handle h, String orgId, String projectName) {
        return projects.find(h, orgId, projectName).orElseThrow(() -> ApiError.notFound("project", projectName));
    }

    private Optional<Binding> byProject(Handle h, String projectId) {
        return h.createQuery(SELECT + " WHERE b.project_id = :p").bind("p", projectId).map((rs, ctx) -> map(rs))
                .findOne();
    }

    /** A row; one still in plain text (written before {@link #encryptPlaintext} ran) is read as it is. */
    private Binding map(ResultSet rs) throws SQLException {
        RepoUrl url = RepoUrl.parse(rs.getString("fetch_url"));
        String secret = rs.getString("webhook_secret");
        String credentials = rs.getString("credentials");
        RepoUrl.Credentials own = credentials == null ? url.credentials().orElse(null) : openCredentials(credentials);
        return new Binding(rs.getString("project_id"), rs.getString("org_id"), rs.getString("name"),
                url.credentials().isPresent() ? RepoUrl.parse(url.connectUrl()) : url, rs.getString("repo_branch"),
                SecretBox.isSealed(secret) ? box.open(secret) : secret, own, instant(rs, "created_at"),
                instant(rs, "secret_rotated_at"), rs.getInt("previews_from_forks") != 0);
    }

    /** User and password, each percent-encoded, joined by ':', then encrypted. */
    private String sealCredentials(RepoUrl.Credentials credentials) {
        return box.seal(URLEncoder.encode(credentials.user(), StandardCharsets.UTF_8) + ":"
                + URLEncoder.encode(credentials.password(), StandardCharsets.UTF_8));
    }

    private RepoUrl.Credentials openCredentials(String sealed) {
        String plain = box.open(sealed);
        int colon = plain.indexOf(':');
        return new RepoUrl.Credentials(URLDecoder.decode(plain.substring(0, colon), StandardCharsets.UTF_8),
                URLDecoder.decode(plain.substring(colon + 1), StandardCharsets.UTF_8));
    }

    /** 32 random bytes as 64 hex digits. */
    private static String newSecret() {
        byte[] bytes = new byte[32];
        RANDOM.nextBytes(bytes);
        return Digests.hex(bytes);
    }
}
