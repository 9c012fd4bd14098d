package dev.karta.server.ci;

import dev.karta.api.CiTrust;
import dev.karta.api.Printable;
import dev.karta.server.Ids;
import dev.karta.server.audit.AuditLog;
import dev.karta.server.http.Actor;
import dev.karta.server.http.ApiError;
import dev.karta.server.projects.ProjectRecord;
import dev.karta.server.store.Database;
import java.time.Instant;
import java.util.List;
import java.util.Locale;
import java.util.regex.Pattern;

/**
 * Adds, lists and removes a project's trusts in GitHub Actions workflow identities, each change
 * with its audit event ({@code ci.trust}, {@code ci.untrust}). Repositories are kept in lower case
 * (GitHub's names are case-insensitive); refs are exact, full refs, without wildcards. Trusts go
 * with their project (a foreign key that cascades).
 */
final class CiTrusts {
    /** GitHub's owner rule (letters, digits, single hyphens, at most 39) and a repository name. */
    private static final Pattern REPOSITORY = Pattern.compile("[A-Za-z0-9][A-Za-z0-9-]{0,38}/[A-Za-z0-9._-]{1,100}");
    private static final Pattern REF = Pattern.compile("refs/[A-Za-z0-9._/+@-]{1,250}");
    static final int MAX_ENVIRONMENT = 255;
    /** The most trusts one project may have. */
    static final int MAX_PER_PROJECT = 50;
    static final String GITHUB = "github";

    private final Database db;
    private final CiTrustStore store;
    private final AuditLog audit;

    CiTrusts(Database db, CiTrustStore store, AuditLog audit) {
        this.db = db;
        this.store = store;
        this.audit = audit;
    }

    CiTrust create(Actor actor, ProjectRecord project, String provider, String repository, String ref,
                   String environment) {
        if (provider != null && !GITHUB.equals(provider.trim())) {
            throw ApiError.badRequest("provider must be 'github' (the only one supported)");
        }
        String repo = repository(repository);
        String fullRef = ref(ref);
        String env = environment(environment);
        CiTrustStore.Row row = new CiTrustStore.Row(Ids.next("cit"), project.orgId(), project.id(), project.name(),
                GITHUB, repo, fullRef, env, Instant.now().toEpochMilli());
        try {
            db.inTransaction(h -> {
                if (store.count(h, project.id()) >= MAX_PER_PROJECT) {
                    throw ApiError.unprocessable("project " + project.name() + " has its limit of " + MAX_PER_PROJECT
                            + " CI trusts: remove one with 'karta ci untrust " + project.name() + " ID'");
                }
                store.insert(h, row, actor.keyId());
                audit.append(h, actor, "ci.trust", resource(project.name(), row));
                return null;
            });
        } catch (RuntimeException e) {
            if (Database.isUniqueViolation(e)) {
                throw ApiError.conflict("project " + project.name() + " already trusts " + describe(row));
            }
            throw e;
        }
        return row.toWire();
    }

    List<CiTrust> list(ProjectRecord project) {
        return db.withHandle(h -> store.list(h, project.id())).stream().map(CiTrustStore.Row::toWire).toList();
    }

    void delete(Actor actor, ProjectRecord project, String id) {
        db.inTransaction(h -> {
            CiTrustStore.Row row = store.find(h, project.id(), id)
                    .orElseThrow(() -> ApiError.notFound("CI trust", Printable.line(id)));
            store.delete(h, row.id());
            audit.append(h, actor, "ci.untrust", resource(project.name(), row));
            return null;
        });
    }

    /** The audit resource of a trust: {@code project:shop/ci_trust:cit_…/github:acme/shop@refs/heads/main}. */
    private static String resource(String project, CiTrustStore.Row row) {
        return "project:" + project + "/ci_trust:" + row.id() + "/" + identity(row.repository(), row.ref(),
                row.environment().isEmpty() ? null : row.environment());
    }

    /** A workflow identity as the audit log shows it: {@code github:OWNER/REPO@REF[/environment:ENV]}. */
    static String identity(String repository, String ref, String environment) {
        return "github:" + repository + "@" + ref + (environment == null ? "" : "/environment:" + environment);
    }

    private static String describe(CiTrustStore.Row row) {
        return "GitHub repository " + row.repository() + " on " + row.ref()
                + (row.environment().isEmpty() ? " (any environment)" : " in environment " + row.environment());
    }

    static String repository(String raw) {
        String value = raw == null ? "" : raw.trim();
        if (value.startsWith("https://github.com/")) {
            value = value.substring("https://github.com/".length());
        }
        if (value.isEmpty()) {
            throw ApiError.badRequest("repository is required, as OWNER/REPO (e.g. acme/shop-agent)");
        }
        String name = value.substring(value.indexOf('/') + 1);
        if (!REPOSITORY.matcher(value).matches() || name.equals(".") || name.equals("..")) {
            throw ApiError.badRequest("repository must be OWNER/REPO as GitHub names it (e.g. acme/shop-agent), got '"
                    + Printable.line(value.length() > 150 ? value.substring(0, 150) + "…" : value) + "'");
        }
        return value.toLowerCase(Locale.ROOT);
    }

    static String ref(String raw) {
        String value = raw == null ? "" : raw.trim();
        if (value.isEmpty()) {
            throw ApiError.badRequest("ref is required: a full git ref such as refs/heads/main or refs/tags/v1.0");
        }
        if (!value.startsWith("refs/")) {
            throw ApiError.badRequest("ref must be a full git ref such as refs/heads/" + shown(value)
                    + " (GitHub's ref claim is always one), got '" + shown(value) + "'");
        }
        if (!REF.matcher(value).matches() || value.contains("..") || value.contains("//") || value.endsWith("/")
                || value.endsWith(".lock") || value.endsWith(".")) {
            throw ApiError.badRequest("ref must be a valid full git ref of at most 255 characters, without "
                    + "wildcards (e.g. refs/heads/main), got '" + shown(value) + "'");
        }
        return value;
    }

    /** The environment as stored: '' for none (any environment). */
    static String environment(String raw) {
        if (raw == null || raw.isBlank()) {
            return "";
        }
        String value = raw.trim();
        if (value.length() > MAX_ENVIRONMENT || Printable.hasControlCharacters(value)) {
            throw ApiError.badRequest("environment must be a GitHub environment name of at most " + MAX_ENVIRONMENT
                    + " characters, without control characters");
        }
        return value;
    }

    private static String shown(String value) {
        return Printable.line(value.length() > 100 ? value.substring(0, 100) + "…" : value);
    }
}
