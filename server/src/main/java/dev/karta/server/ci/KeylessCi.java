package dev.karta.server.ci;

import static dev.karta.server.http.Scope.ADMIN;
import static dev.karta.server.http.Scope.READ;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.karta.api.CiTrustList;
import dev.karta.api.CreateCiTrust;
import dev.karta.api.OidcKey;
import dev.karta.api.OidcTokenRequest;
import dev.karta.server.Config;
import dev.karta.server.audit.AuditLog;
import dev.karta.server.http.ApiError;
import dev.karta.server.http.FailureWindows;
import dev.karta.server.http.Idempotency;
import dev.karta.server.http.Requests;
import dev.karta.server.http.Routes;
import dev.karta.server.keys.ApiKeys;
import dev.karta.server.projects.ProjectRecord;
import dev.karta.server.projects.Projects;
import dev.karta.server.store.Database;
import io.javalin.config.JavalinConfig;
import io.javalin.config.RoutesConfig;
import io.javalin.http.Context;
import java.time.Clock;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Keyless CI's routes: a project's trusts under {@code /agent_projects/{project}/ci_trusts} (read to
 * list, admin to add or remove; the auth layer holds restricted keys to their project), and
 * {@code POST /oidc/github/token}, which needs no key: the GitHub Actions token is the credential.
 * Refused exchanges count against the client's address and the project named ({@link FailureWindows}).
 */
public final class KeylessCi implements Routes {
    private static final Logger LOG = LoggerFactory.getLogger(KeylessCi.class);

    private final CiTrusts trusts;
    private final TokenExchange exchange;
    private final FailureWindows failures;
    private final int failuresPerAddress;
    private final Projects projects;
    private final Idempotency idempotency;
    private final ObjectMapper json;
    private final Supplier<String> publicUrl;

    public KeylessCi(Database db, AuditLog audit, ApiKeys keys, Projects projects, Idempotency idempotency,
                     ObjectMapper json, Config.Oidc settings, Supplier<String> publicUrl) {
        Clock clock = Clock.systemUTC();
        CiTrustStore store = new CiTrustStore();
        this.trusts = new CiTrusts(db, store, audit);
        IssuerKeys issuerKeys = new IssuerKeys(settings, json, clock);
        this.exchange = new TokenExchange(db, store, keys, audit, new GithubTokens(settings, issuerKeys, clock),
                settings.keyLifetime(), clock);
        this.failures = new FailureWindows(settings.failuresPerAddress(), clock);
        this.failuresPerAddress = settings.failuresPerAddress();
        this.projects = projects;
        this.idempotency = idempotency;
        this.json = json;
        this.publicUrl = publicUrl;
    }

    @Override
    public void register(JavalinConfig config) {
        RoutesConfig r = config.routes;
        r.get("/agent_projects/{project}/ci_trusts", this::list, READ);
        r.post("/agent_projects/{project}/ci_trusts", this::trust, ADMIN);
        r.delete("/agent_projects/{project}/ci_trusts/{id}", this::untrust, ADMIN);
        r.post("/oidc/github/token", this::token);
    }

    private ProjectRecord project(Context ctx) {
        return projects.require(Requests.principal(ctx).orgId(), ctx.pathParam("project"));
    }

    void list(Context ctx) {
        ctx.json(new CiTrustList(trusts.list(project(ctx))));
    }

    void trust(Context ctx) {
        CreateCiTrust body = Requests.json(ctx, json, CreateCiTrust.class);
        ProjectRecord project = project(ctx);
        idempotency.respond(ctx, "ci.trust:" + project.id() + ":" + body.repository() + ":" + body.ref() + ":"
                + body.environment(), () -> new Idempotency.Answer(201, trusts.create(Requests.actor(ctx), project,
                body.provider(), body.repository(), body.ref(), body.environment())));
    }

    void untrust(Context ctx) {
        ProjectRecord project = project(ctx);
        String id = ctx.pathParam("id");
        idempotency.respond(ctx, "ci.untrust:" + project.id() + ":" + id, () -> {
            trusts.delete(Requests.actor(ctx), project, id);
            return new Idempotency.Answer(204, null);
        });
    }

    void token(Context ctx) {
        OidcTokenRequest body = Requests.secretJson(ctx, json, OidcTokenRequest.class);
        String address = ctx.ip();
        // Per address and named project: one tenant's refused exchanges from a shared runner
        // address must not lock another tenant's workflows out.
        String window = address + " " + (body.project() == null ? "" : body.project());
        if (!failures.admit(window)) {
            throw ApiError.tooManyRequests("too many refused token exchanges from this address ("
                    + failuresPerAddress + " a minute); try again later", failures.untilWindowEnds(window));
        }
        boolean refused = false;
        try {
            OidcKey key = exchange.exchange(body.token(), body.project(), publicUrl.get(), Requests.requestId(ctx),
                    address);
            LOG.info("exchanged a GitHub Actions token for key {} of project {} (request {})", key.apiKey().id(),
                    key.apiKey().project(), Requests.requestId(ctx));
            ctx.status(201).json(key);
        } catch (ApiError e) {
            int status = e.kind().status();
            refused = status >= 400 && status < 500 && status != 429;
            if (refused) {
                LOG.info("refused a GitHub Actions token exchange from {} (request {}): {}", address,
                        Requests.requestId(ctx), e.getMessage());
            }
            throw e;
        } finally {
            if (!refused) {
                failures.forgive(window);
            }
        }
    }
}
