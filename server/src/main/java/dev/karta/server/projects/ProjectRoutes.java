package dev.karta.server.projects;

import static dev.karta.server.http.Scope.ADMIN;
import static dev.karta.server.http.Scope.READ;
import static dev.karta.server.http.Scope.WRITE;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.karta.api.CreateProject;
import dev.karta.api.ProjectList;
import dev.karta.server.http.Idempotency;
import dev.karta.server.http.Requests;
import dev.karta.server.http.Routes;
import io.javalin.config.JavalinConfig;
import io.javalin.config.RoutesConfig;
import io.javalin.http.Context;

/** Handlers of {@code /agent_projects} and {@code /agent_projects/{p}}. */
public final class ProjectRoutes implements Routes {
    private final Projects projects;
    private final Idempotency idempotency;
    private final ObjectMapper json;

    public ProjectRoutes(Projects projects, Idempotency idempotency, ObjectMapper json) {
        this.projects = projects;
        this.idempotency = idempotency;
        this.json = json;
    }

    @Override
    public void register(JavalinConfig config) {
        RoutesConfig r = config.routes;
        r.get("/agent_projects", this::list, READ);
        r.post("/agent_projects", this::create, WRITE);
        r.get("/agent_projects/{project}", this::show, READ);
        r.delete("/agent_projects/{project}", this::delete, ADMIN);
    }

    public void list(Context ctx) {
        String org = Requests.principal(ctx).orgId();
        ctx.json(new ProjectList(projects.list(org).stream().map(projects::toWire).toList()));
    }

    public void create(Context ctx) {
        CreateProject body = Requests.json(ctx, json, CreateProject.class);
        idempotency.respond(ctx, "project.create:" + body.name(), () ->
                new Idempotency.Answer(201, projects.toWire(projects.create(Requests.actor(ctx), body.name()))));
    }

    public void show(Context ctx) {
        String org = Requests.principal(ctx).orgId();
        ctx.json(projects.toWire(projects.require(org, ctx.pathParam("project"))));
    }

    public void delete(Context ctx) {
        String project = ctx.pathParam("project");
        idempotency.respond(ctx, "project.delete:" + project, () -> {
            projects.delete(Requests.actor(ctx), project);
            return new Idempotency.Answer(204, null);
        });
    }
}
