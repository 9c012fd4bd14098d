package dev.karta.server.releases;

import static dev.karta.server.http.Scope.ADMIN;
import static dev.karta.server.http.Scope.READ;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.karta.api.Pin;
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

/**
 * Handlers of {@code …/releases}, {@code …/releases/{v}}, {@code …/releases/{v}/activate},
 * {@code …/releases/{a}/diff/{b}}, {@code …/rollback} and {@code …/pin}.
 */
public final class ReleaseRoutes implements Routes {
    private final Releases releases;
    private final ReleaseDiffs diffs;
    private final Projects projects;
    private final RollbackPreviews previews;
    private final Idempotency idempotency;
    private final ObjectMapper json;

    public ReleaseRoutes(Releases releases, ReleaseDiffs diffs, Projects projects, RollbackPreviews previews,
                         Idempotency idempotency, ObjectMapper json) {
        this.releases = releases;
        this.diffs = diffs;
        this.projects = projects;
        this.previews = previews;
        this.idempotency = idempotency;
        this.json = json;
    }

    @Override
    public void register(JavalinConfig config) {
        RoutesConfig r = config.routes;
        r.get("/agent_projects/{project}/releases", this::list, READ);
        r.get("/agent_projects/{project}/releases/{version}", this::show, READ);
        r.get("/agent_projects/{project}/releases/{from}/diff/{to}", this::diff, READ);
        r.post("/agent_projects/{project}/releases/{version}/activate", this::activate, ADMIN);
        r.post("/agent_projects/{project}/rollback", this::rollback, ADMIN);
        r.delete("/agent_projects/{project}/pin", this::unpin, ADMIN);
    }

    public void list(Context ctx) {
        ProjectRecord project = project(ctx);
        ctx.json(new ReleaseList(releases.listWire(project), project.pinned()
                ? new Pin("v" + project.pinnedNumber(), project.pinnedBy(), project.pinnedAt()) : null));
    }

    public void show(Context ctx) {
        ProjectRecord project = project(ctx);
        ReleaseRecord release = releases.get(project, ctx.pathParam("version"));
        ctx.json(release.toWire(project.currentReleaseId(), releases.unavailableReason(release)));
    }

    public void diff(Context ctx) {
        ProjectRecord project = project(ctx);
        ReleaseRecord from = releases.get(project, ctx.pathParam("from"));
        ReleaseRecord to = releases.get(project, ctx.pathParam("to"));
        ctx.json(diffs.diff(project, from, to));
    }

    public void rollback(Context ctx) {
        RollbackRequest body = Requests.json(ctx, json, RollbackRequest.class);
        String project = ctx.pathParam("project");
        if (body.wantsDryRun()) {
            ctx.json(previews.preview(project(ctx), body.to(), body.wantsPin()));
            return;
        }
        idempotency.respond(ctx, "rollback:" + project + ":" + body.to() + ":" + body.wantsPin(), () ->
                new Idempotency.Answer(200, releases.rollback(Requests.actor(ctx), project, body.to(), body.wantsPin())));
    }

    public void activate(Context ctx) {
        String project = ctx.pathParam("project");
        String version = ctx.pathParam("version");
        idempotency.respond(ctx, "release.activate:" + project + ":" + version, () ->
                new Idempotency.Answer(200, releases.activate(Requests.actor(ctx), project, version)));
    }

    public void unpin(Context ctx) {
        String project = ctx.pathParam("project");
        idempotency.respond(ctx, "project.unpin:" + project, () ->
                new Idempotency.Answer(200, releases.unpin(Requests.actor(ctx), project)));
    }

    private ProjectRecord project(Context ctx) {
        return projects.require(Requests.principal(ctx).orgId(), ctx.pathParam("project"));
    }
}
