package dev.karta.server.dashboard;

import dev.karta.api.CreateApiKey;
import dev.karta.server.dashboard.Pages.Frame;
import dev.karta.server.dashboard.Pages.Viewer;
import dev.karta.server.http.ApiError;
import dev.karta.server.http.Authenticator;
import dev.karta.server.http.HttpApi;
import dev.karta.server.http.Principal;
import dev.karta.server.http.Requests;
import dev.karta.server.http.Routes;
import dev.karta.server.http.Scope;
import dev.karta.server.keys.ApiKeys;
import dev.karta.server.keys.KeyRoutes;
import dev.karta.server.releases.Releases;
import dev.karta.server.store.Digests;
import gg.jte.ContentType;
import gg.jte.TemplateEngine;
import gg.jte.output.StringOutput;
import io.javalin.config.JavalinConfig;
import io.javalin.config.RoutesConfig;
import io.javalin.http.Context;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.SecureRandom;
import java.time.Clock;
import java.time.Duration;
import java.time.temporal.ChronoUnit;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The web dashboard (docs/dashboard.md): server-rendered pages at {@code /}, {@code /projects/{p}},
 * {@code /projects/{p}/deploys/{id}}, {@code /keys} and {@code /audit}, sign-in and sign-out, and
 * its two static assets. Pages are jte templates compiled at build time; every value is escaped
 * by the template engine, and every answer carries a strict Content-Security-Policy (no inline
 * script or style). Forms that change something carry the session's CSRF token. A request with an
 * Authorization header or {@code Accept: application/json} is an API client's: it gets a JSON 404,
 * never a page or a redirect.
 */
public final class DashboardRoutes implements Routes {
    private static final Logger LOG = LoggerFactory.getLogger(DashboardRoutes.class);
    static final String CSP = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
            + "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";
    /** The sign-in form's own CSRF cookie (double submit): there is no session yet to hold a token. */
    static final String SIGN_IN_COOKIE = "karta_sign_in";
    private static final int MAX_KEY_FIELD = 200;
    private static final SecureRandom RANDOM = new SecureRandom();
    private static final Map<String, String> ASSET_TYPES = Map.of(
            "dashboard.css", "text/css; charset=utf-8",
            "dashboard.js", "text/javascript; charset=utf-8");

    /** A page's body, given the signed-in session. */
    @FunctionalInterface
    private interface Page {
        void render(Context ctx, DashboardSessions.Session session);
    }

    private record Asset(byte[] bytes, String type, String etag) {
    }

    private final DashboardSessions sessions;
    private final DashboardViews views;
    private final Releases releases;
    private final ApiKeys keys;
    private final KeyRoutes keyChecks;
    private final Supplier<String> publicUrl;
    private final Clock clock;
    private final TemplateEngine templates = TemplateEngine.createPrecompiled(ContentType.Html);
    private final Map<String, Asset> assets;

    public DashboardRoutes(DashboardSessions sessions, DashboardViews views, Releases releases, ApiKeys keys,
                           KeyRoutes keyChecks, Supplier<String> publicUrl, Clock clock) {
        this.sessions = sessions;
        this.views = views;
        this.releases = releases;
        this.keys = keys;
        this.keyChecks = keyChecks;
        this.publicUrl = publicUrl;
        this.clock = clock;
        this.assets = Map.of("dashboard.css", asset("dashboard.css"), "dashboard.js", asset("dashboard.js"));
    }

    @Override
    public void register(JavalinConfig config) {
        RoutesConfig r = config.routes;
        r.get("/sign-in", this::signInForm);
        r.post("/sign-in", this::signIn);
        r.post("/sign-out", ctx -> form(ctx, (c, s) -> signOut(c)));
        r.get("/", ctx -> page(ctx, (c, s) -> render(c, 200, "projects.jte",
                views.projects(frame("Projects", "projects", s), s.principal(), c.queryParam("q")))));
        r.get("/projects/{project}", ctx -> page(ctx, this::project));
        r.get("/projects/{project}/deploys/{id}", ctx -> page(ctx, (c, s) -> render(c, 200, "deploy.jte",
                views.deploy(frame("Deploy " + c.pathParam("id"), "projects", s), s.principal(),
                        c.pathParam("project"), c.pathParam("id")))));
        r.get("/projects/{project}/rollback", ctx -> page(ctx, (c, s) -> {
            requireScope(s, Scope.ADMIN);
            render(c, 200, "rollback.jte", views.rollback(frame("Roll back " + c.pathParam("project"), "projects", s),
                    s.principal(), c.pathParam("project"), required(c, "to")));
        }));
        r.post("/projects/{project}/rollback", ctx -> form(ctx, this::rollback));
        r.post("/projects/{project}/unpin", ctx -> form(ctx, this::unpin));
        r.get("/keys", ctx -> page(ctx, (c, s) -> {
            requireOrgAdmin(s);
            render(c, 200, "keys.jte", views.keys(frame("API keys", "keys", s), s.principal(), null, null));
        }));
        r.post("/keys", ctx -> form(ctx, this::createKey));
        r.post("/keys/{id}/revoke", ctx -> form(ctx, this::revokeKey));
        r.get("/audit", ctx -> page(ctx, (c, s) -> {
            requireOrgAdmin(s);
            render(c, 200, "audit.jte", views.audit(frame("Audit log", "audit", s), s.principal(), before(c)));
        }));
        r.get("/assets/{file}", this::asset);
    }

    private void project(Context ctx, DashboardSessions.Session session) {
        String source = blankToNull(ctx.queryParam("source"));
        if (source != null && !DashboardViews.LOG_SOURCES.contains(source)) {
            throw DashboardViews.badFilter("source", source, DashboardViews.LOG_SOURCES);
        }
        String window = Optional.ofNullable(blankToNull(ctx.queryParam("window"))).orElse("1h");
        if (!DashboardViews.LOG_WINDOWS.contains(window)) {
            throw DashboardViews.badFilter("window", window, DashboardViews.LOG_WINDOWS);
        }
        String name = ctx.pathParam("project");
        render(ctx, 200, "project.jte", views.project(frame(name, "projects", session), session.principal(), name,
                source, window));
    }

    private void rollback(Context ctx, DashboardSessions.Session session) {
        requireScope(session, Scope.ADMIN);
        String project = ctx.pathParam("project");
        releases.rollback(Requests.actor(ctx), project, required(ctx, "to"), true);
        redirect(ctx, "/projects/" + project);
    }

    private void unpin(Context ctx, DashboardSessions.Session session) {
        requireScope(session, Scope.ADMIN);
        String project = ctx.pathParam("project");
        releases.unpin(Requests.actor(ctx), project);
        redirect(ctx, "/projects/" + project);
    }

    private void createKey(Context ctx, DashboardSessions.Session session) {
        requireOrgAdmin(session);
        Frame frame = frame("API keys", "keys", session);
        String expiresIn = blankToNull(ctx.formParam("expires"));
        String expiresAt;
        try {
            expiresAt = expiresIn == null ? null
                    : clock.instant().plus(Duration.ofDays(Integer.parseInt(expiresIn))).truncatedTo(ChronoUnit.SECONDS)
                            .toString();
        } catch (NumberFormatException e) {
            throw ApiError.badRequest("expires must be a number of days, got '" + expiresIn + "'");
        }
        String scope = ctx.formParam("scope");
        KeyRoutes.KeyRequest request;
        try {
            request = keyChecks.check(new CreateApiKey(ctx.formParam("name"), scope == null ? null : List.of(scope),
                    expiresAt, blankToNull(ctx.formParam("project"))), session.principal());
        } catch (ApiError e) {
            render(ctx, e.kind().status(), "keys.jte", views.keys(frame, session.principal(), null, e.getMessage()));
            return;
        }
        ApiKeys.Minted minted = keys.create(Requests.actor(ctx), request.name(), request.scope(), request.expiresAt(),
                request.project());
        render(ctx, 201, "keys.jte", views.keys(frame, session.principal(),
                new Pages.NewKey(minted.key(), minted.secret()), null));
    }

    private void revokeKey(Context ctx, DashboardSessions.Session session) {
        requireOrgAdmin(session);
        keys.revoke(Requests.actor(ctx), ctx.pathParam("id"));
        redirect(ctx, "/keys");
    }

    // Sign-in and sign-out.

    private void signInForm(Context ctx) {
        if (isApiClient(ctx)) {
            notForApiClients(ctx);
            return;
        }
        if (session(ctx).isPresent()) {
            redirect(ctx, next(ctx.queryParam("next")));
            return;
        }
        showSignIn(ctx, 200, null, next(ctx.queryParam("next")));
    }

    private void showSignIn(Context ctx, int status, String error, String next) {
        String token = randomToken();
        ctx.res().addHeader("Set-Cookie", cookie(SIGN_IN_COOKIE, token, "/sign-in", Duration.ofHours(1)));
        render(ctx, status, "sign-in.jte", new Pages.SignIn(new Frame("Sign in", null, null), token, next, error));
    }

    /** Where to go after signing in: a path of this site only (never another host), else {@code /}. */
    static String next(String next) {
        return next != null && next.startsWith("/") && !next.startsWith("//") && !next.startsWith("/\\")
                && next.length() <= 2000 && next.chars().noneMatch(c -> c < 0x20 || c == 0x7f) ? next : "/";
    }

    private void signIn(Context ctx) {
        if (isApiClient(ctx)) {
            notForApiClients(ctx);
            return;
        }
        String next = next(ctx.formParam("next"));
        if (!sameToken(ctx.cookie(SIGN_IN_COOKIE), ctx.formParam("csrf"))) {
            showSignIn(ctx, 403, "This sign-in form has expired (or cookies are off): try again.", next);
            return;
        }
        String key = Optional.ofNullable(ctx.formParam("key")).orElse("").trim();
        if (key.isEmpty() || key.length() > MAX_KEY_FIELD) {
            showSignIn(ctx, 400, "Paste an API key: kt_live_ followed by 32 letters or digits.", next);
            return;
        }
        DashboardSessions.SignedIn signedIn;
        try {
            signedIn = sessions.signIn(key, ctx.ip());
        } catch (ApiError e) {
            showSignIn(ctx, e.kind().status(), e.getMessage(), next);
            return;
        }
        sessions.signOut(ctx.cookie(Authenticator.SESSION_COOKIE)); // a browser holds one session at a time
        ctx.res().addHeader("Set-Cookie", cookie(SIGN_IN_COOKIE, "", "/sign-in", Duration.ZERO));
        ctx.res().addHeader("Set-Cookie", cookie(Authenticator.SESSION_COOKIE, signedIn.token(), "/",
                signedIn.lifetime()));
        redirect(ctx, next);
    }

    private void signOut(Context ctx) {
        sessions.signOut(ctx.cookie(Authenticator.SESSION_COOKIE));
        ctx.res().addHeader("Set-Cookie", cookie(Authenticator.SESSION_COOKIE, "", "/", Duration.ZERO));
        redirect(ctx, "/sign-in");
    }

    // The frame every page and form runs in.

    /** A page: for a signed-in browser, else a redirect to the sign-in form. */
    private void page(Context ctx, Page page) {
        run(ctx, page, false);
    }

    /** A form's POST: as a page, and only with the session's CSRF token. */
    private void form(Context ctx, Page page) {
        run(ctx, page, true);
    }

    private void run(Context ctx, Page page, boolean changes) {
        if (isApiClient(ctx)) {
            notForApiClients(ctx);
            return;
        }
        Optional<DashboardSessions.Session> session = session(ctx);
        if (session.isEmpty()) {
            // Back to this page after signing in, if it is one to come back to.
            String here = ctx.queryString() == null ? ctx.path() : ctx.path() + "?" + ctx.queryString();
            redirect(ctx, changes || here.equals("/") ? "/sign-in"
                    : "/sign-in?next=" + URLEncoder.encode(here, StandardCharsets.UTF_8));
            return;
        }
        Requests.signedIn(ctx, session.get().principal());
        Frame frame = frame("Error", null, session.get());
        try {
            if (changes && !sameToken(session.get().csrfToken(), ctx.formParam("csrf"))) {
                throw ApiError.forbidden("this form has expired (its CSRF token does not match): reload the page"
                        + " and try again");
            }
            // As the API's auth layer does for every route naming a project: a key restricted to
            // one project answers for any other exactly as for a project that does not exist.
            String project = ctx.pathParamMap().get(Authenticator.PROJECT_PARAM);
            if (project != null) {
                session.get().principal().requireProject(project);
            }
            page.render(ctx, session.get());
        } catch (ApiError e) {
            problem(ctx, frame, e.kind().status(), e.getMessage());
        } catch (RuntimeException e) {
            ApiError unreachable = ApiError.ifDatabaseUnreachable(e);
            if (unreachable != null) {
                problem(ctx, frame, unreachable.kind().status(), unreachable.getMessage());
                return;
            }
            LOG.error("dashboard page {} failed (request {})", ctx.path(), Requests.requestId(ctx), e);
            problem(ctx, frame, 500, "Something went wrong on the server; quote request id "
                    + Requests.requestId(ctx) + ".");
        }
    }

    private void problem(Context ctx, Frame frame, int status, String message) {
        String title = switch (status) {
            case 400, 422 -> "Not understood";
            case 403 -> "Not allowed";
            case 404 -> "Not found";
            case 409 -> "Not possible now";
            default -> status >= 500 ? "Server error" : "Error";
        };
        render(ctx, status, "problem.jte", new Pages.Problem(new Frame(title, frame.nav(), frame.viewer()), message));
    }

    private Optional<DashboardSessions.Session> session(Context ctx) {
        return sessions.find(ctx.cookie(Authenticator.SESSION_COOKIE));
    }

    private static Frame frame(String title, String nav, DashboardSessions.Session session) {
        Principal p = session.principal();
        return new Frame(title, nav, new Viewer(p.orgName(), p.keyId(), p.keyName(), p.scope().wireName(),
                p.scope().includes(Scope.ADMIN), !p.isRestricted(), session.csrfToken()));
    }

    private static void requireScope(DashboardSessions.Session session, Scope scope) {
        Authenticator.requireScope(session.principal(), scope);
    }

    private static void requireOrgAdmin(DashboardSessions.Session session) {
        requireScope(session, Scope.ADMIN);
        session.principal().requireOrgWide();
    }

    /** An API client's request: it never gets a page or a redirect. */
    private static boolean isApiClient(Context ctx) {
        String accept = ctx.header("Accept");
        return ctx.header("Authorization") != null || (accept != null && accept.contains("application/json"));
    }

    private static void notForApiClients(Context ctx) {
        HttpApi.render(ctx, 404, "not_found", ctx.method() + " " + ctx.path()
                + " is the web dashboard, for browsers; the API lives under /agent_projects, /api_keys and"
                + " /audit_events (docs/api.md)");
    }

    private void render(Context ctx, int status, String template, Object model) {
        StringOutput out = new StringOutput();
        templates.render(template, model, out);
        securityHeaders(ctx);
        ctx.header("Cache-Control", "no-store");
        ctx.status(status).contentType("text/html; charset=utf-8").result(out.toString());
    }

    private static void redirect(Context ctx, String to) {
        securityHeaders(ctx);
        ctx.redirect(to, io.javalin.http.HttpStatus.SEE_OTHER);
    }

    private static void securityHeaders(Context ctx) {
        ctx.header("Content-Security-Policy", CSP);
        ctx.header("X-Content-Type-Options", "nosniff");
        ctx.header("X-Frame-Options", "DENY");
        ctx.header("Referrer-Policy", "same-origin");
    }

    /** A {@code Set-Cookie} value: HttpOnly, SameSite=Strict, and Secure when the public URL is https. */
    private String cookie(String name, String value, String path, Duration maxAge) {
        return name + "=" + value + "; Path=" + path + "; Max-Age=" + maxAge.toSeconds()
                + "; HttpOnly; SameSite=Strict" + (publicUrl.get().startsWith("https://") ? "; Secure" : "");
    }

    private void asset(Context ctx) {
        Asset asset = assets.get(ctx.pathParam("file"));
        if (asset == null) {
            HttpApi.render(ctx, 404, "not_found", "no dashboard asset " + ctx.pathParam("file"));
            return;
        }
        securityHeaders(ctx);
        ctx.header("ETag", asset.etag());
        ctx.header("Cache-Control", "no-cache");
        if (asset.etag().equals(ctx.header("If-None-Match"))) {
            ctx.status(304);
            return;
        }
        ctx.contentType(asset.type()).result(asset.bytes());
    }

    private static Asset asset(String name) {
        try (InputStream in = DashboardRoutes.class.getResourceAsStream("/dashboard/" + name)) {
            if (in == null) {
                throw new IllegalStateException("dashboard asset " + name + " is missing from the build");
            }
            byte[] bytes = in.readAllBytes();
            return new Asset(bytes, ASSET_TYPES.get(name), "\"" + Digests.sha256Hex(bytes).substring(0, 16) + "\"");
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static Long before(Context ctx) {
        String raw = blankToNull(ctx.queryParam("before"));
        try {
            return raw == null ? null : Long.parseLong(raw);
        } catch (NumberFormatException e) {
            throw ApiError.badRequest("before must be an audit event number, got '" + raw + "'");
        }
    }

    private static String required(Context ctx, String name) {
        String value = blankToNull(ctx.formParamMap().containsKey(name) ? ctx.formParam(name) : ctx.queryParam(name));
        if (value == null) {
            throw ApiError.badRequest("'" + name + "' is required");
        }
        return value;
    }

    private static String blankToNull(String value) {
        return value == null || value.isBlank() ? null : value.trim();
    }

    private static boolean sameToken(String expected, String given) {
        return expected != null && !expected.isEmpty() && given != null
                && MessageDigest.isEqual(expected.getBytes(StandardCharsets.UTF_8), given.getBytes(StandardCharsets.UTF_8));
    }

    private static String randomToken() {
        byte[] bytes = new byte[24];
        RANDOM.nextBytes(bytes);
        return Base64.getUrlEncoder().withoutPadding().encodeToString(bytes);
    }
}
