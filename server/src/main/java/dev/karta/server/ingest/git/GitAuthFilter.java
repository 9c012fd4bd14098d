package dev.karta.server.ingest.git;

import dev.karta.server.Ids;
import dev.karta.server.http.Actor;
import dev.karta.server.http.ApiError;
import dev.karta.server.http.Authenticator;
import dev.karta.server.http.Principal;
import dev.karta.server.http.Scope;
import dev.karta.server.projects.ProjectRecord;
import dev.karta.server.projects.Projects;
import jakarta.servlet.Filter;
import jakarta.servlet.FilterChain;
import jakarta.servlet.ServletException;
import jakarta.servlet.ServletRequest;
import jakarta.servlet.ServletResponse;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletRequestWrapper;
import jakarta.servlet.http.HttpServletResponse;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.slf4j.MDC;

/**
 * Guards {@code /git/*}, which Javalin's before-handlers never see. Keys come as HTTP Basic (the
 * key as password, any user name) or Bearer. Fetching needs {@code read}, pushing
 * ({@code git-receive-pack}, including its ref advertisement) needs {@code write}. No or a bad key
 * is 401 with a Basic challenge, so git asks its credential helper; a too-low scope is 403; a
 * project of another org, or an unknown one being fetched, is 404, and so is any project but its
 * own for a project-restricted key. A push to an unknown name creates the project. Errors are plain text, which git prints as {@code remote:} lines.
 */
final class GitAuthFilter implements Filter {
    private static final Logger LOG = LoggerFactory.getLogger(GitAuthFilter.class);
    /** {@code /{project}.git} and what follows, below the {@code /git} servlet path. */
    private static final Pattern PATH = Pattern.compile("/([^/]+)\\.git(/.*)?");
    private static final String RECEIVE_PACK = "git-receive-pack";

    private final Authenticator authenticator;
    private final Projects projects;

    GitAuthFilter(Authenticator authenticator, Projects projects) {
        this.authenticator = authenticator;
        this.projects = projects;
    }

    @Override
    public void doFilter(ServletRequest request, ServletResponse response, FilterChain chain)
            throws IOException, ServletException {
        HttpServletRequest req = (HttpServletRequest) request;
        HttpServletResponse res = (HttpServletResponse) response;
        long started = System.nanoTime();
        String requestId = Ids.next("req");
        MDC.put("request_id", requestId);
        res.setHeader("X-Request-Id", requestId);
        String keyId = "-";
        try {
            GitCaller caller = admit(req, requestId);
            keyId = caller.principal().keyId();
            caller.attachTo(req);
            chain.doFilter(new AsRemoteUser(req, keyId), res);
        } catch (ApiError e) {
            deny(res, e);
        } catch (RuntimeException | IOException | ServletException e) {
            ApiError unreachable = ApiError.ifDatabaseUnreachable(e);
            if (unreachable == null) {
                throw e;
            }
            LOG.warn("git request {}: the database is unreachable ({})", req.getRequestURI(), e.toString());
            deny(res, unreachable);
        } finally {
            LOG.info("{} {}{} {} {}ms key={} request_id={}", req.getMethod(), req.getRequestURI(),
                    req.getQueryString() == null ? "" : "?" + req.getQueryString(), res.getStatus(),
                    (System.nanoTime() - started) / 1_000_000, keyId, requestId);
            MDC.remove("request_id");
        }
    }

    private GitCaller admit(HttpServletRequest req, String requestId) {
        String path = req.getPathInfo() == null ? "" : req.getPathInfo();
        Matcher m = PATH.matcher(path);
        if (!m.matches()) {
            throw new ApiError(ApiError.Kind.NOT_FOUND, "not a Karta git URL: use " + req.getContextPath()
                    + "/git/{project}.git");
        }
        String name = m.group(1);
        boolean push = isReceivePack(req, m.group(2));
        String authorization = req.getHeader("Authorization");
        if (authorization == null || authorization.isBlank()) {
            throw ApiError.unauthorized("Karta needs an API key: give any user name and the key as password "
                    + "(karta init sets up a credential helper)");
        }
        String client = authenticator.clientAddress(req.getRemoteAddr(), req.getHeaders("X-Forwarded-For"));
        Principal principal = authenticator.authenticate(authorization, client);
        Scope required = push ? Scope.WRITE : Scope.READ;
        if (!principal.scope().includes(required)) {
            throw ApiError.forbidden((push ? "pushing to " : "fetching from ") + name + " needs a key with '"
                    + required.wireName() + "' scope; key " + principal.keyId() + " has '"
                    + principal.scope().wireName() + "'");
        }
        // A key restricted to another project gets the 404 of a project of another org, and cannot
        // create a project by pushing to a new name either.
        principal.requireProject(name);
        Actor actor = new Actor(principal.orgId(), principal.keyId(), requestId, client);
        return new GitCaller(principal, actor, project(actor, name, push));
    }

    /**
     * The named project of the caller's org. A push to a name that does not exist yet creates it
     * (a name that cannot exist answers the naming rule); a name another org holds stays a 404.
     */
    private ProjectRecord project(Actor actor, String name, boolean push) {
        try {
            return projects.require(actor.orgId(), name);
        } catch (ApiError e) {
            if (!push || e.kind() != ApiError.Kind.NOT_FOUND) {
                throw e;
            }
        }
        try {
            return projects.create(actor, name);
        } catch (ApiError e) {
            if (e.kind() == ApiError.Kind.CONFLICT) {
                // Another first push of this name won the race, or another org holds the name.
                return projects.require(actor.orgId(), name);
            }
            throw e;
        }
    }

    /** Pushes are {@code GET info/refs?service=git-receive-pack} and {@code POST git-receive-pack}. */
    private static boolean isReceivePack(HttpServletRequest req, String rest) {
        return ("/info/refs".equals(rest) && RECEIVE_PACK.equals(req.getParameter("service")))
                || ("/" + RECEIVE_PACK).equals(rest);
    }

    private static void deny(HttpServletResponse res, ApiError e) throws IOException {
        if (res.isCommitted()) {
            return;
        }
        res.resetBuffer();
        res.setStatus(e.kind().status());
        if (e.kind() == ApiError.Kind.UNAUTHORIZED) {
            res.setHeader("WWW-Authenticate", "Basic realm=\"karta\"");
        }
        if (e.retryAfter() != null) {
            res.setHeader("Retry-After", Long.toString(e.retryAfterSeconds()));
        }
        res.setHeader("Cache-Control", "no-cache");
        res.setContentType("text/plain; charset=UTF-8");
        res.getOutputStream().write((e.getMessage() + "\n").getBytes(StandardCharsets.UTF_8));
    }

    /** Shows JGit the key as the remote user: its default factories want an authenticated user. */
    private static final class AsRemoteUser extends HttpServletRequestWrapper {
        private final String user;

        AsRemoteUser(HttpServletRequest request, String user) {
            super(request);
            this.user = user;
        }

        @Override
        public String getRemoteUser() {
            return user;
        }
    }
}
