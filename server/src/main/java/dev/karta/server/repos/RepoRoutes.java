package dev.karta.server.repos;

import static dev.karta.server.http.Scope.READ;
import static dev.karta.server.http.Scope.WRITE;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.karta.api.BoundRepo;
import dev.karta.api.RepoBinding;
import dev.karta.server.http.ApiError;
import dev.karta.server.http.Idempotency;
import dev.karta.server.http.Requests;
import dev.karta.server.http.Routes;
import dev.karta.server.store.Digests;
import io.javalin.config.JavalinConfig;
import io.javalin.config.RoutesConfig;
import io.javalin.http.Context;
import java.util.function.Supplier;
import org.eclipse.jgit.lib.Constants;
import org.eclipse.jgit.lib.Repository;

/**
 * Handlers of {@code /agent_projects/{p}/repo}: bind (PUT, write), show (GET, read), unbind
 * (DELETE, write) and {@code POST …/repo/rotate-secret} (write). The webhook secret is in the
 * answers of PUT and rotate-secret only. A binding's credential, given as {@code "token"} in the
 * PUT body or as the user info of an https URL (which is split out of it), is stored encrypted
 * and never shown: answers say {@code "credentials": true} and show the URL without it. Tenants'
 * URLs are checked by the {@link Egress} (no ssh, git, file or private addresses unless the
 * operator allowed them): 422 {@code repo_url_refused}.
 */
public final class RepoRoutes implements Routes {
    static final String DEFAULT_BRANCH = "main";
    private static final int MAX_BRANCH = 255;

    private final Bindings bindings;
    private final BoundRepos bound;
    private final Idempotency idempotency;
    private final ObjectMapper json;
    private final Supplier<String> publicUrl;

    public RepoRoutes(Bindings bindings, BoundRepos bound, Idempotency idempotency, ObjectMapper json,
                      Supplier<String> publicUrl) {
        this.bindings = bindings;
        this.bound = bound;
        this.idempotency = idempotency;
        this.json = json;
        this.publicUrl = publicUrl;
    }

    @Override
    public void register(JavalinConfig config) {
        RoutesConfig r = config.routes;
        r.put("/agent_projects/{project}/repo", this::bind, WRITE);
        r.get("/agent_projects/{project}/repo", this::show, READ);
        r.delete("/agent_projects/{project}/repo", this::unbind, WRITE);
        r.post("/agent_projects/{project}/repo/rotate-secret", this::rotateSecret, WRITE);
    }

    public void bind(Context ctx) {
        JsonNode body = Requests.json(ctx, json, JsonNode.class);
        if (!body.isObject()) {
            throw ApiError.badRequest("request body must be a JSON object like "
                    + "{\"url\":\"https://github.com/acme/shop-agent\",\"branch\":\"main\"}");
        }
        RepoUrl given = RepoUrl.parse(text(body, "url"));
        RepoUrl.Credentials credentials = given.credentials().orElse(null);
        // Stored without credentials (and without an ssh password, which is never used).
        RepoUrl url = RepoUrl.parse(given.connectUrl());
        String token = text(body, "token");
        if (token != null) {
            token = token.strip();
            if (token.isEmpty() || token.chars().anyMatch(c -> c <= 0x20 || c == 0x7f)) {
                throw ApiError.badRequest("token must not be empty or hold spaces or control characters");
            }
            if (credentials != null) {
                throw ApiError.badRequest("give the credential either in the URL or as token, not both");
            }
            if (url.fetch().startsWith("ssh://") || !url.fetch().contains("://")) {
                throw ApiError.badRequest("a token is sent over https; ssh URLs take no token");
            }
            // GitHub reads a token as Bearer; git hosts take it as the password of any user name.
            credentials = new RepoUrl.Credentials("x-access-token", token);
        }
        bound.mirror().checkAllowed(url);
        bound.egress().checkBindable(url);
        String branch = branch(text(body, "branch"));
        boolean forks = flag(body, "previews_from_forks");
        String project = ctx.pathParam("project");
        String fingerprint = "repo-bind:" + project + ":" + Digests.sha256Hex(given.fetch() + "\n" + branch + "\n"
                + (token == null ? "" : token) + (forks ? "\nforks" : ""));
        RepoUrl.Credentials own = credentials;
        idempotency.respond(ctx, fingerprint, () -> {
            Bindings.Binding binding = bindings.bind(Requests.actor(ctx), project, url, own, branch, forks);
            bound.forget(binding.projectId());
            return new Idempotency.Answer(200, answer(binding, true));
        });
    }

    public void show(Context ctx) {
        ctx.json(answer(bindings.require(Requests.principal(ctx).orgId(), ctx.pathParam("project")), false));
    }

    public void unbind(Context ctx) {
        String project = ctx.pathParam("project");
        idempotency.respond(ctx, "repo-unbind:" + project, () -> {
            Bindings.Binding removed = bindings.unbind(Requests.actor(ctx), project);
            bound.forget(removed.projectId());
            return new Idempotency.Answer(204, null);
        });
    }

    public void rotateSecret(Context ctx) {
        String project = ctx.pathParam("project");
        idempotency.respond(ctx, "repo-rotate:" + project, () ->
                new Idempotency.Answer(200, answer(bindings.rotateSecret(Requests.actor(ctx), project), true)));
    }

    /** A binding as the API shows it; {@code webhookSecret} only when it was just issued. */
    private BoundRepo answer(Bindings.Binding b, boolean withSecret) {
        return new BoundRepo(b.projectName(), new RepoBinding(b.url().display(), b.branch()), b.url().kind().wireName(),
                b.credentials() != null, publicUrl.get() + "/webhooks/github", withSecret ? b.secret() : null, b.createdAt(),
                b.secretRotatedAt(), b.previewsFromForks());
    }

    /** {@code main} when absent; otherwise a valid git branch name ({@code refs/heads/} may be given). */
    static String branch(String raw) {
        if (raw == null) {
            return DEFAULT_BRANCH;
        }
        String branch = raw.startsWith(Constants.R_HEADS) ? raw.substring(Constants.R_HEADS.length()) : raw;
        if (branch.isEmpty() || branch.length() > MAX_BRANCH || branch.startsWith("-")
                || !Repository.isValidRefName(Constants.R_HEADS + branch)) {
            throw new ApiError(ApiError.Kind.BAD_REQUEST, "invalid_branch", "branch '" + raw + "' is not a valid git "
                    + "branch name (no spaces, '..', '~', '^', ':', '?', '*', '[', '\\', no leading '-' or trailing "
                    + "'/' or '.lock'); for example main or release/v2");
        }
        return branch;
    }

    /** An optional boolean field; false when absent or null. */
    private static boolean flag(JsonNode body, String field) {
        JsonNode value = body.get(field);
        if (value == null || value.isNull()) {
            return false;
        }
        if (!value.isBoolean()) {
            throw ApiError.badRequest(field + " must be true or false, got " + value.getNodeType().name().toLowerCase());
        }
        return value.asBoolean();
    }

    private static String text(JsonNode body, String field) {
        JsonNode value = body.get(field);
        if (value == null || value.isNull()) {
            return null;
        }
        if (!value.isTextual()) {
            throw ApiError.badRequest(field + " must be a string, got " + value.getNodeType().name().toLowerCase());
        }
        return value.asText();
    }
}
