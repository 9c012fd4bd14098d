package dev.karta.server.releases;

import static dev.karta.server.http.Scope.ADMIN;
import static dev.karta.server.http.Scope.READ;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.karta.api.ReleaseList;
import dev.karta.api.RollbackRequest;
import dev.karta.server.http.Idempotency;
import dev.karta.server.http.Requests;
import dev.karta.server.http.Routes;
import dev.karta.server.projects.ProjectRecord;
import dev.karta.server.projects.Projects;
import io.javalin.config.JavalinConfig;
import io.javalin.config.RoutesConfig;
import io.javalin.http.Context;

/** Handlers of {@code …/releases}, {@code …/releases/{v}} and {@code …/rollback}. */
public final class ReleaseRoutes implements Routes {
    private final Releases releases;
    private final Projects projects;
    private final Idempotency idempotency;
    private final ObjectMapper json;

    public ReleaseRoutes(Releases releases, Projects projects, Idempotency idempotency, ObjectMapper json) {
        this.releases = releases;
        this.projects = projects;
        this.idempotency = idempotency;
        this.json = json;
    }

    @Override
    public void register(JavalinConfig config) {
        RoutesConfig r = config.routes;
        r.get("/agent_projects/{project}/releases", this::list, READ);
        r.get("/agent_projects/{project}/releases/{version}", this::show, READ);
        r.post("/agent_projects/{project}/rollback", this::rollback, ADMIN);
    }

    public void list(Context ctx) {
        ProjectRecord project = project(ctx);
        ctx.json(new ReleaseList(releases.list(project).stream()
                .map(r -> r.toWire(project.currentReleaseId())).toList()));
    }

    public void show(Context ctx) {
        ProjectRecord project = project(ctx);
        ctx.json(releases.get(project, ctx.pathParam("version")).toWire(project.currentReleaseId()));
    }

    public void rollback(Context ctx) {
        RollbackRequest body = Requests.json(ctx, json, RollbackRequest.class);
        String project = ctx.pathParam("project");
        idempotency.respond(ctx, "rollback:" + project + ":" + body.to(), () ->
                new Idempotency.Answer(200, releases.rollback(Requests.actor(ctx), project, body.to())));
    }

    private ProjectRecord project(Context ctx) {
        return projects.require(Requests.principal(ctx).orgId(), ctx.pathParam("project"));
    }
}
