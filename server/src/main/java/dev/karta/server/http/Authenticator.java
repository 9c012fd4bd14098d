package dev.karta.server.http;

import io.javalin.http.Context;
import io.javalin.security.RouteRole;
import java.nio.charset.StandardCharsets;
import java.util.Base64;
import java.util.Collections;
import java.util.Enumeration;
import java.util.Set;

/**
 * The one place scopes are checked. A route that declares a {@link Scope} needs a key holding at
 * least that scope: no or an invalid key is 401, a too-low scope is 403. Keys come as
 * {@code Authorization: Bearer kt_live_…}, or as the password of HTTP Basic (for git).
 *
 * <p>It is also the one place a project-restricted key is held to its project, for every route
 * at once: a route whose path names a {@code {project}} other than the key's answers 404, as a
 * project of another org does; a route without one is org-wide and answers 403, unless it is
 * marked {@link ProjectReach#NARROWED_BY_HANDLER}. (Git over HTTP, which Javalin's handlers never
 * see, applies the same {@link Principal#requireProject} in its own filter.)
 *
 * <p>A request with no Authorization header may read (GET and HEAD only) with the dashboard's
 * session cookie, {@value #SESSION_COOKIE}: that is how the dashboard's pages follow logs live
 * ({@code EventSource} sends no headers). The cookie is SameSite=Strict and never changes
 * anything here; the dashboard's own forms carry a CSRF token.
 */
public final class Authenticator {
    /** Looks an API key's secret up; the keys feature implements it. */
    @FunctionalInterface
    public interface Keys {
        /** The caller holding {@code secret}, sent from {@code address}, or a 401 {@link ApiError}. */
        Principal authenticate(String secret, String address);
    }

    /** The live dashboard session behind a cookie's token, or null; the dashboard implements it. */
    @FunctionalInterface
    public interface CookieSessions {
        CookieSession find(String token);
    }

    /** A dashboard session: its id (never the token) and the caller it acts as. */
    public record CookieSession(String id, Principal principal) {
    }

    /** The dashboard's session cookie. */
    public static final String SESSION_COOKIE = "karta_session";

    /** The path parameter every route naming a project uses. */
    public static final String PROJECT_PARAM = "project";

    private final Keys keys;
    private final ClientAddress clients;
    private final CookieSessions cookieSessions;

    public Authenticator(Keys keys, ClientAddress clients, CookieSessions cookieSessions) {
        this.keys = keys;
        this.clients = clients;
        this.cookieSessions = cookieSessions;
    }

    /**
     * The client's address, given the connection's {@code peer} and every line of its
     * X-Forwarded-For header, in order (a balancer appends its own line after the client's).
     */
    public String clientAddress(String peer, Enumeration<String> forwardedFor) {
        return clients.of(peer, forwardedFor == null ? null : String.join(",", Collections.list(forwardedFor)));
    }

    void check(Context ctx) {
        Scope required = requiredScope(ctx.routeRoles());
        if (required == null) {
            return;
        }
        CookieSession session = cookieSession(ctx);
        Principal principal = session != null ? session.principal()
                : authenticate(ctx.header("Authorization"), ctx.ip());
        requireScope(principal, required);
        requireReach(principal, ctx.pathParamMap().get(PROJECT_PARAM), ctx.routeRoles());
        ctx.attribute(Requests.PRINCIPAL, principal);
        if (session != null) {
            ctx.attribute(Requests.DASHBOARD_SESSION, session.id());
        }
    }

    /** The dashboard session, for a read without an Authorization header; else null. */
    private CookieSession cookieSession(Context ctx) {
        String method = ctx.req().getMethod();
        if (ctx.header("Authorization") != null || !(method.equals("GET") || method.equals("HEAD"))) {
            return null;
        }
        String token = ctx.cookie(SESSION_COOKIE);
        return token == null ? null : cookieSessions.find(token);
    }

    /**
     * Holds a restricted key to its project: {@code project} is the route's {@code {project}}
     * path parameter (null when it has none), {@code roles} the route's roles.
     */
    static void requireReach(Principal principal, String project, Set<RouteRole> roles) {
        if (!principal.isRestricted()) {
            return;
        }
        if (project != null) {
            principal.requireProject(project);
        } else if (!roles.contains(ProjectReach.NARROWED_BY_HANDLER)) {
            principal.requireOrgWide();
        }
    }

    /**
     * Validates an Authorization header value sent from {@code address} (the client's, for the
     * failed-check throttle; may be null) and returns its caller, or throws a 401.
     */
    public Principal authenticate(String authorization, String address) {
        String secret = secretOf(authorization);
        if (secret == null) {
            throw ApiError.unauthorized("missing API key: send 'Authorization: Bearer kt_live_…'");
        }
        return keys.authenticate(secret, address);
    }

    public static void requireScope(Principal principal, Scope required) {
        if (!principal.scope().includes(required)) {
            throw ApiError.forbidden("this action needs a key with '" + required.wireName() + "' scope; key "
                    + principal.keyId() + " has '" + principal.scope().wireName() + "'");
        }
    }

    private static String secretOf(String authorization) {
        if (authorization == null || authorization.isBlank()) {
            return null;
        }
        String value = authorization.trim();
        int space = value.indexOf(' ');
        if (space < 0) {
            return null;
        }
        String scheme = value.substring(0, space);
        String credentials = value.substring(space + 1).trim();
        if (scheme.equalsIgnoreCase("Bearer")) {
            return credentials;
        }
        if (scheme.equalsIgnoreCase("Basic")) {
            try {
                String decoded = new String(Base64.getDecoder().decode(credentials), StandardCharsets.UTF_8);
                int colon = decoded.indexOf(':');
                return colon < 0 ? decoded : decoded.substring(colon + 1);
            } catch (IllegalArgumentException e) {
                return null;
            }
        }
        return null;
    }

    private static Scope requiredScope(Set<RouteRole> roles) {
        Scope required = null;
        for (RouteRole role : roles) {
            if (role instanceof Scope scope && (required == null || scope.includes(required))) {
                required = scope;
            }
        }
        return required;
    }
}
