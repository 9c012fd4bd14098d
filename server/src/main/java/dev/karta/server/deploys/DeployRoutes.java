package dev.karta.server.deploys;

import static dev.karta.server.http.Scope.READ;

import dev.karta.api.DeployList;
import dev.karta.server.http.Requests;
import dev.karta.server.http.Routes;
import dev.karta.server.logs.DeployLogStream;
import dev.karta.server.projects.ProjectRecord;
import dev.karta.server.projects.Projects;
import io.javalin.config.JavalinConfig;
import io.javalin.config.RoutesConfig;
import io.javalin.http.Context;

/** Handlers of {@code …/deploys}, {@code …/deploys/{id}} and the build log stream. */
public final class DeployRoutes implements Routes {
    private final Deploys deploys;
    private final Projects projects;
    private final DeployLogStream logStream;

    public DeployRoutes(Deploys deploys, Projects projects, DeployLogStream logStream) {
        this.deploys = deploys;
        this.projects = projects;
        this.logStream = logStream;
    }

    @Override
    public void register(JavalinConfig config) {
        RoutesConfig r = config.routes;
        r.get("/agent_projects/{project}/deploys", this::list, READ);
        r.get("/agent_projects/{project}/deploys/{id}", this::show, READ);
        // Streams are plain GETs: http/sse/SseStream writes SSE without blocking (Javalin's r.sse blocks).
        r.get("/agent_projects/{project}/deploys/{id}/logs", this::logs, READ);
    }

    public void list(Context ctx) {
        ProjectRecord project = project(ctx);
        int limit = Requests.limit(ctx, 50, 500);
        ctx.json(new DeployList(deploys.list(project, limit).stream().map(DeployRecord::toWire).toList()));
    }

    public void show(Context ctx) {
        ctx.json(deploys.get(project(ctx), ctx.pathParam("id")).toWire());
    }

    /** SSE: the build log replayed, then followed until the deploy ends (then an {@code end} event). */
    public void logs(Context ctx) {
        DeployRecord deploy = deploys.get(project(ctx), ctx.pathParam("id"));
        logStream.follow(ctx, deploy.projectId(), deploy.id(), () -> {
            DeployRecord current = deploys.refresh(deploy);
            return current.status().isTerminal() ? current.toWire() : null;
        });
    }

    private ProjectRecord project(Context ctx) {
        return projects.require(Requests.principal(ctx).orgId(), ctx.pathParam("project"));
    }
}
