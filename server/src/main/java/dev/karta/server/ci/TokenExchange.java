package dev.karta.server.ci;

import dev.karta.api.OidcKey;
import dev.karta.api.Printable;
import dev.karta.server.audit.AuditLog;
import dev.karta.server.events.Events;
import dev.karta.server.http.Actor;
import dev.karta.server.http.ApiError;
import dev.karta.server.http.Scope;
import dev.karta.server.keys.ApiKeys;
import dev.karta.server.projects.Projects;
import dev.karta.server.store.Database;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.Locale;
import java.util.regex.Pattern;

/**
 * Exchanges a verified GitHub Actions token for a write key restricted to the project it names,
 * living {@link dev.karta.server.Config.Oidc#keyLifetime()}, when a trust of that project matches
 * the token's repository, ref and environment. The project is named as {@code NAME} (names are
 * unique on the server) or {@code ORG/NAME}; only trusts are matched, so a missing project and one
 * that does not trust the workflow get the same 403, and nothing tells another org's project apart.
 * The key, its audit event ({@code ci.token}, whose actor is the new key) and its
 * {@code key.created} event (for event webhooks) are written in one transaction.
 */
final class TokenExchange {
    private static final Pattern ORG = Pattern.compile("[a-z0-9][a-z0-9-]{0,62}");
    private static final int MAX_KEY_NAME = 100;

    private final Database db;
    private final CiTrustStore store;
    private final ApiKeys keys;
    private final AuditLog audit;
    private final GithubTokens tokens;
    private final Duration keyLifetime;
    private final Clock clock;

    TokenExchange(Database db, CiTrustStore store, ApiKeys keys, AuditLog audit, GithubTokens tokens,
                  Duration keyLifetime, Clock clock) {
        this.db = db;
        this.store = store;
        this.keys = keys;
        this.audit = audit;
        this.tokens = tokens;
        this.keyLifetime = keyLifetime;
        this.clock = clock;
    }

    /** The key for {@code token} and {@code project}, minted for a request {@code requestId} from {@code address}. */
    OidcKey exchange(String token, String project, String audience, String requestId, String address) {
        if (project == null || project.isBlank()) {
            throw ApiError.badRequest("project is required: the name of the project to deploy (or ORG/NAME)");
        }
        String name = project.trim();
        String org = null;
        int slash = name.indexOf('/');
        if (slash >= 0) {
            org = name.substring(0, slash);
            name = name.substring(slash + 1);
            if (!ORG.matcher(org).matches()) {
                throw ApiError.badRequest("project must be NAME or ORG/NAME; the org part is not an org name");
            }
        }
        Projects.validateName(name);
        GithubTokens.Claims claims = tokens.verify(token, audience);
        String repository = claims.repository().toLowerCase(Locale.ROOT);
        String environment = claims.environment() == null ? null : claims.environment().toLowerCase(Locale.ROOT);
        String identity = CiTrusts.identity(claims.repository(), claims.ref(), claims.environment());
        String keyName = "ci " + Printable.line(identity);
        String shownName = keyName.length() > MAX_KEY_NAME ? keyName.substring(0, MAX_KEY_NAME - 1) + "…" : keyName;
        String orgName = org;
        String projectName = name;
        for (int attempt = 0; ; attempt++) {
            try {
                return db.inTransaction(h -> {
                    CiTrustStore.Row trust = store.match(h, orgName, projectName, repository, claims.ref(), environment)
                            .orElseThrow(() -> notTrusted(project.trim(), projectName, claims));
                    Instant expires = clock.instant().plus(keyLifetime).truncatedTo(ChronoUnit.MILLIS);
                    ApiKeys.Minted minted = keys.mintRestricted(h, trust.orgId(), shownName, Scope.WRITE, expires,
                            new ApiKeys.Restriction(trust.projectId(), trust.projectName()));
                    audit.append(h, new Actor(trust.orgId(), minted.key().id(), requestId, address), "ci.token",
                            "project:" + trust.projectName() + "/" + identity);
                    // Subscribers of key.created hear of every key, this one too.
                    Events.record(h, trust.orgId(), null, Events.KEY_CREATED, Events.data("key", Events.data(
                            "id", minted.key().id(), "name", minted.key().name(), "scopes", minted.key().scopes())));
                    return new OidcKey(minted.key(), minted.secret(), expires);
                });
            } catch (RuntimeException e) {
                if (attempt > 0 || !Database.isUniqueViolation(e)) {
                    throw e;
                }
            }
        }
    }

    /** The one answer for a project that is missing, of another org, or does not trust this workflow. */
    private static ApiError notTrusted(String project, String name, GithubTokens.Claims claims) {
        String repository = Printable.line(claims.repository());
        String ref = Printable.line(claims.ref());
        String environment = claims.environment() == null ? null : Printable.line(claims.environment());
        return new ApiError(ApiError.Kind.FORBIDDEN, "not_trusted", "no CI trust of project '" + project
                + "' accepts repository " + repository + " on " + ref
                + (environment == null ? " (no environment)" : " in environment " + environment)
                + "; an admin of the project can add one: karta ci trust " + name + " --github " + repository
                + " --ref " + ref + (environment == null ? "" : " --environment '" + environment + "'"));
    }
}
