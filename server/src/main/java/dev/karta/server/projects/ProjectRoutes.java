package dev.karta.server.projects;

import static dev.karta.server.http.Scope.ADMIN;
import static dev.karta.server.http.Scope.READ;
import static dev.karta.server.http.Scope.WRITE;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.karta.api.CreateProject;
import dev.karta.api.ProjectList;
import dev.karta.server.http.Idempotency;
import dev.karta.server.http.Principal;
import dev.karta.server.http.ProjectReach;
import dev.karta.server.http.Requests;
import dev.karta.server.http.Routes;
import io.javalin.config.JavalinConfig;
import io.javalin.config.RoutesConfig;
import io.javalin.http.Context;
import java.util.Map;

/** Handlers of {@code /agent_projects} and {@code /agent_projects/{p}}. */
public final class ProjectRoutes implements Routes {
    /**
     * How many live sessions each release has, for the projects of an org (only
     * {@code projectId}'s when it is not null): project id → release number → count. The
     * sessions feature answers; it sits above projects, so projects owns the question.
     */
    public interface LiveSessions {
        Map<String, Map<Integer, Long>> byRelease(String orgId, String projectId);
    }

    private final Projects projects;
    private final LiveSessions liveSessions;
    private final Idempotency idempotency;
    private final ObjectMapper json;

    public ProjectRoutes(Projects projects, LiveSessions liveSessions, Idempotency idempotency, ObjectMapper json) {
        this.projects = projects;
        this.liveSessions = liveSessions;
        this.idempotency = idempotency;
        this.json = json;
    }

    @Override
    public void register(JavalinConfig config) {
        RoutesConfig r = config.routes;
        r.get("/agent_projects", this::list, READ, ProjectReach.NARROWED_BY_HANDLER);
        r.post("/agent_projects", this::create, WRITE, ProjectReach.NARROWED_BY_HANDLER);
        r.get("/agent_projects/{project}", this::show, READ);
        r.delete("/agent_projects/{project}", this::delete, ADMIN);
    }

    /** The projects of the caller's org; only its own for a project-restricted key. */
    public void list(Context ctx) {
        Principal principal = Requests.principal(ctx);
        String org = principal.orgId();
        Map<String, Map<Integer, Long>> live = liveSessions.byRelease(org, null);
        ctx.json(new ProjectList(projects.list(org).stream()
                .filter(p -> principal.mayReach(p.name()))
                .map(p -> projects.toWire(p, live.getOrDefault(p.id(), Map.of())))
                .toList()));
    }

    public void create(Context ctx) {
        CreateProject body = Requests.json(ctx, json, CreateProject.class);
        Projects.validateName(body.name());
        Requests.principal(ctx).requireMayCreate(body.name());
        idempotency.respond(ctx, "project.create:" + body.name(), () ->
                new Idempotency.Answer(201, projects.toWire(projects.create(Requests.actor(ctx), body.name()))));
    }

    public void show(Context ctx) {
        String org = Requests.principal(ctx).orgId();
        ProjectRecord project = projects.require(org, ctx.pathParam("project"));
        ctx.json(projects.toWire(project, liveSessions.byRelease(org, project.id()).getOrDefault(project.id(), Map.of())));
    }

    public void delete(Context ctx) {
        String project = ctx.pathParam("project");
        idempotency.respond(ctx, "project.delete:" + project, () -> {
            projects.delete(Requests.actor(ctx), project);
            return new Idempotency.Answer(204, null);
        });
    }
}
