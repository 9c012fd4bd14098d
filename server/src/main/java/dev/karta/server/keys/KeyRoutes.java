package dev.karta.server.keys;

import static dev.karta.server.http.Scope.ADMIN;
import static dev.karta.server.http.Scope.READ;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.karta.api.ApiKeyList;
import dev.karta.api.CreateApiKey;
import dev.karta.api.CreatedApiKey;
import dev.karta.api.Printable;
import dev.karta.api.WhoAmI;
import dev.karta.server.http.ApiError;
import dev.karta.server.http.Idempotency;
import dev.karta.server.http.Principal;
import dev.karta.server.http.ProjectReach;
import dev.karta.server.http.Requests;
import dev.karta.server.http.Routes;
import dev.karta.server.http.Scope;
import io.javalin.config.JavalinConfig;
import io.javalin.config.RoutesConfig;
import io.javalin.http.Context;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.time.format.DateTimeFormatter;
import java.time.format.DateTimeParseException;
import java.time.temporal.ChronoUnit;
import java.util.List;

/**
 * Handlers of {@code /whoami} and {@code /api_keys}. The key routes are org-wide, so a
 * project-restricted key cannot list, create or revoke keys (the auth layer answers 403), and
 * can therefore never mint a key broader than itself.
 */
public final class KeyRoutes implements Routes {
    private static final int MAX_NAME = 100;
    /** The furthest a key's {@code expires_at} may be: five years (of 365.25 days) from its creation. */
    static final Duration MAX_LIFETIME = Duration.ofDays(1826);

    /** Finds a project of an org by name for a restricted key: its id, or a 404. */
    @FunctionalInterface
    public interface ProjectIds {
        String require(String orgId, String name);
    }

    private final ApiKeys keys;
    private final ProjectIds projects;
    private final Idempotency idempotency;
    private final ObjectMapper json;
    private final Clock clock;

    public KeyRoutes(ApiKeys keys, ProjectIds projects, Idempotency idempotency, ObjectMapper json) {
        this(keys, projects, idempotency, json, Clock.systemUTC());
    }

    KeyRoutes(ApiKeys keys, ProjectIds projects, Idempotency idempotency, ObjectMapper json, Clock clock) {
        this.keys = keys;
        this.projects = projects;
        this.idempotency = idempotency;
        this.json = json;
        this.clock = clock;
    }

    @Override
    public void register(JavalinConfig config) {
        RoutesConfig r = config.routes;
        r.get("/whoami", this::whoami, READ, ProjectReach.NARROWED_BY_HANDLER);
        r.get("/api_keys", this::list, READ);
        r.post("/api_keys", this::create, ADMIN);
        r.delete("/api_keys/{id}", this::revoke, ADMIN);
    }

    public void whoami(Context ctx) {
        Principal p = Requests.principal(ctx);
        ctx.json(new WhoAmI(p.orgName(), new WhoAmI.Key(p.keyId(), p.keyName(), List.of(p.scope().wireName()),
                p.expiresAt(), p.isRestricted() ? p.projectName() : null)));
    }

    public void list(Context ctx) {
        ctx.json(new ApiKeyList(keys.list(Requests.principal(ctx).orgId())));
    }

    /** A key creation asked for, checked: what {@link ApiKeys#create} needs. */
    public record KeyRequest(String name, Scope scope, Instant expiresAt, ApiKeys.Restriction project) {
    }

    public void create(Context ctx) {
        KeyRequest request = check(Requests.json(ctx, json, CreateApiKey.class), Requests.principal(ctx));
        // A retry names the same key but never repeats its secret: answers are stored in the
        // database, and a secret is shown once and never kept.
        idempotency.respond(ctx, "api_key.create:" + request.name() + ":" + request.scope().wireName() + ":"
                + request.expiresAt() + ":" + (request.project() == null ? "" : request.project().id()), () -> {
            ApiKeys.Minted minted = keys.create(Requests.actor(ctx), request.name(), request.scope(),
                    request.expiresAt(), request.project());
            return new Idempotency.Answer(201, new CreatedApiKey(minted.key(), minted.secret()),
                    new CreatedApiKey(minted.key(), null));
        });
    }

    /** Checks a key creation by {@code creator}, as the API and the dashboard receive it, or throws a 4xx. */
    public KeyRequest check(CreateApiKey body, Principal creator) {
        String name = body.name() == null ? "" : body.name().trim();
        if (name.isEmpty() || name.length() > MAX_NAME) {
            throw ApiError.badRequest("key name is required, at most " + MAX_NAME + " characters");
        }
        if (Printable.hasControlCharacters(body.name())) {
            throw ApiError.badRequest("key name must not contain control characters (line breaks, escapes)");
        }
        if (body.scopes() == null || body.scopes().size() != 1 || Scope.parse(body.scopes().get(0)) == null) {
            throw ApiError.badRequest("scopes must hold exactly one of \"read\", \"write\", \"admin\"");
        }
        Scope scope = Scope.parse(body.scopes().get(0));
        Instant expiresAt = expiresAt(body.expiresAt());
        // The route is org-wide, so the auth layer already refused a restricted key; a key is
        // never minted broader than its creator, whatever routes allow in the future.
        creator.requireOrgWide();
        ApiKeys.Restriction project = body.project() == null ? null
                : new ApiKeys.Restriction(projects.require(creator.orgId(), body.project()), body.project());
        return new KeyRequest(name, scope, expiresAt, project);
    }

    /**
     * The expiry asked for: null for none, else an RFC 3339 time after now and at most
     * {@link #MAX_LIFETIME} ahead.
     */
    private Instant expiresAt(String raw) {
        if (raw == null) {
            return null;
        }
        Instant at;
        try {
            // Kept to the millisecond, as stored: the answer shows the expiry that is enforced.
            at = OffsetDateTime.parse(raw.trim(), DateTimeFormatter.ISO_OFFSET_DATE_TIME).toInstant()
                    .truncatedTo(ChronoUnit.MILLIS);
        } catch (DateTimeParseException e) {
            throw ApiError.badRequest("expires_at must be an RFC 3339 time such as 2027-03-01T00:00:00Z"
                    + (raw.length() <= 64 ? ", got '" + Printable.line(raw) + "'" : ""));
        }
        Instant now = clock.instant();
        if (!at.isAfter(now)) {
            throw ApiError.unprocessable("expires_at " + at + " is not in the future (it is now " + now + ")");
        }
        if (at.isAfter(now.plus(MAX_LIFETIME))) {
            throw ApiError.unprocessable("expires_at " + at + " is too far ahead: keys live at most "
                    + MAX_LIFETIME.toDays() + " days (five years)");
        }
        return at;
    }

    public void revoke(Context ctx) {
        String id = ctx.pathParam("id");
        idempotency.respond(ctx, "api_key.revoke:" + id, () -> {
            keys.revoke(Requests.actor(ctx), id);
            return new Idempotency.Answer(204, null);
        });
    }
}
