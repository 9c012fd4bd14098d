package dev.karta.server.ingest.git;

import static dev.karta.server.http.Scope.WRITE;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.karta.api.DeployAccepted;
import dev.karta.server.deploys.DeployRecord;
import dev.karta.server.deploys.DeploySource;
import dev.karta.server.http.ApiError;
import dev.karta.server.http.Idempotency;
import dev.karta.server.http.Requests;
import dev.karta.server.http.Routes;
import dev.karta.server.ingest.Ingest;
import dev.karta.server.projects.ProjectRecord;
import dev.karta.server.projects.Projects;
import dev.karta.server.repos.BoundRepos;
import dev.karta.server.repos.GitRepos;
import io.javalin.config.JavalinConfig;
import io.javalin.config.RoutesConfig;
import io.javalin.http.Context;

/**
 * Handler of {@code POST /agent_projects/{p}/deploys {"commit_sha"}}: deploys a commit the
 * project's repository already holds ({@code karta deploy APP --commit SHA}, CI jobs). The SHA may
 * be abbreviated (4 or more hex digits, unambiguous); the deploy and its release record the full
 * one. Unknown or ambiguous SHAs are a 422 that says how to get the commit there. A bound
 * repository that does not answer within the resolve timeout does not hold the request: the
 * deploy is accepted with the abbreviated SHA and its build resolves it.
 */
public final class CommitDeployRoutes implements Routes {
    private final Ingest ingest;
    private final Projects projects;
    private final GitRepos repos;
    private final BoundRepos bound;
    private final Idempotency idempotency;
    private final ObjectMapper json;

    public CommitDeployRoutes(Ingest ingest, Projects projects, GitRepos repos, BoundRepos bound,
                              Idempotency idempotency, ObjectMapper json) {
        this.ingest = ingest;
        this.projects = projects;
        this.repos = repos;
        this.bound = bound;
        this.idempotency = idempotency;
        this.json = json;
    }

    @Override
    public void register(JavalinConfig config) {
        RoutesConfig r = config.routes;
        r.post("/agent_projects/{project}/deploys", this::create, WRITE);
    }

    public void create(Context ctx) {
        String sha = commitSha(Requests.json(ctx, json, JsonNode.class));
        ProjectRecord project = projects.require(Requests.principal(ctx).orgId(), ctx.pathParam("project"));
        String full = resolve(project, sha);
        idempotency.respond(ctx, "deploy:" + project.name() + ":" + full, () -> {
            DeployRecord deploy = ingest.accept(Requests.actor(ctx), project.name(), false,
                    new Ingest.Arrival(DeploySource.DEPLOY, full, null, null,
                            "deploy of commit " + sha + " from " + (project.repoUrl() == null
                                    ? "the project's repository" : project.repoUrl()),
                            DeploySource.DEPLOY.wireName(), Idempotency.key(ctx)));
            return new Idempotency.Answer(202, new DeployAccepted(true, project.name(), full, deploy.id()));
        });
    }

    /**
     * Where a named commit is looked up: a project bound to a repository resolves it there (and
     * Sources fetches it from there); an unbound one in its own repository.
     */
    private String resolve(ProjectRecord project, String sha) {
        return bound.resolveCommit(project, sha).orElseGet(() -> repos.resolveCommit(project, sha));
    }

    private static String commitSha(JsonNode body) {
        if (!body.isObject()) {
            throw ApiError.badRequest("request body must be a JSON object like {\"commit_sha\":\"1a2b3c4\"}");
        }
        JsonNode sha = body.get("commit_sha");
        if (sha == null || sha.isNull()) {
            throw ApiError.badRequest("commit_sha is required: the commit to deploy, 4 to 40 hex digits");
        }
        if (!sha.isTextual() || !GitRepos.COMMIT_HEX.matcher(sha.asText()).matches()) {
            throw ApiError.badRequest("commit_sha must be a hex commit SHA of 4 to 40 digits, got " + sha);
        }
        return sha.asText();
    }
}
