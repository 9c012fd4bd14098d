package dev.karta.server.projects;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.karta.api.CreateProject;
import dev.karta.api.ProjectList;
import dev.karta.server.http.Idempotency;
import dev.karta.server.http.Requests;
import io.javalin.http.Context;

/** Handlers of {@code /agent_projects} and {@code /agent_projects/{p}}. */
public final class ProjectRoutes {
    private final Projects projects;
    private final Idempotency idempotency;
    private final ObjectMapper json;

    public ProjectRoutes(Projects projects, Idempotency idempotency, ObjectMapper json) {
        this.projects = projects;
        this.idempotency = idempotency;
        this.json = json;
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
