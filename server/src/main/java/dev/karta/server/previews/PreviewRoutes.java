package dev.karta.server.previews;

import static dev.karta.server.http.Scope.ADMIN;
import static dev.karta.server.http.Scope.READ;
import static dev.karta.server.http.Scope.WRITE;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.karta.api.CreatePreview;
import dev.karta.api.PreviewList;
import dev.karta.api.PreviewPromotion;
import dev.karta.server.deploys.DeploySource;
import dev.karta.server.http.Actor;
import dev.karta.server.http.ApiError;
import dev.karta.server.http.Idempotency;
import dev.karta.server.http.Requests;
import dev.karta.server.http.Routes;
import dev.karta.server.releases.Releases;
import io.javalin.config.JavalinConfig;
import io.javalin.config.RoutesConfig;
import io.javalin.http.Context;

/**
 * Handlers of {@code /agent_projects/{p}/previews…} (docs/previews.md): list, show, create by
 * commit (write: lets CI without a GitHub binding make previews), delete (expires it) and promote
 * (admin).
 */
public final class PreviewRoutes implements Routes {
    private final Previews previews;
    private final Idempotency idempotency;
    private final ObjectMapper json;

    public PreviewRoutes(Previews previews, Idempotency idempotency, ObjectMapper json) {
        this.previews = previews;
        this.idempotency = idempotency;
        this.json = json;
    }

    @Override
    public void register(JavalinConfig config) {
        RoutesConfig r = config.routes;
        r.get("/agent_projects/{project}/previews", this::list, READ);
        r.post("/agent_projects/{project}/previews", this::create, WRITE);
        r.get("/agent_projects/{project}/previews/{preview}", this::show, READ);
        r.delete("/agent_projects/{project}/previews/{preview}", this::delete, WRITE);
        r.post("/agent_projects/{project}/previews/{preview}/promote", this::promote, ADMIN);
    }

    public void list(Context ctx) {
        ctx.json(new PreviewList(previews.list(Requests.principal(ctx).orgId(), ctx.pathParam("project"))));
    }

    public void show(Context ctx) {
        ctx.json(previews.get(Requests.principal(ctx).orgId(), ctx.pathParam("project"), ctx.pathParam("preview")));
    }

    /** {@code {"name":"pr-42","commit_sha":"…"}} → 202 with the preview (building) and its {@code deploy_id}. */
    public void create(Context ctx) {
        CreatePreview body = Requests.json(ctx, json, CreatePreview.class);
        if (body == null || body.name() == null) {
            throw ApiError.badRequest("request body must be {\"name\":\"pr-42\",\"commit_sha\":\"…\"}");
        }
        int number = Previews.parseName(body.name());
        String sha = Previews.parseSha(body.commitSha());
        String project = ctx.pathParam("project");
        Actor actor = Requests.actor(ctx);
        idempotency.respond(ctx, "preview.create:" + project + ":" + body.name() + ":" + sha, () ->
                new Idempotency.Answer(202, previews.push(actor, project, number, sha, DeploySource.DEPLOY, "api",
                        "preview:api", "POST /agent_projects/" + project + "/previews", (h, d) -> { })
                        .preview()));
    }

    public void delete(Context ctx) {
        String project = ctx.pathParam("project");
        String name = ctx.pathParam("preview");
        Actor actor = Requests.actor(ctx);
        idempotency.respond(ctx, "preview.delete:" + project + ":" + name, () -> {
            previews.delete(actor, project, name);
            return new Idempotency.Answer(204, null);
        });
    }

    /**
     * → 200 {@code {"project","preview","release","commit_sha","source":"promote","live","message"}};
     * {@code live} is false when the project is pinned (the release is built but not live).
     */
    public void promote(Context ctx) {
        String project = ctx.pathParam("project");
        String name = ctx.pathParam("preview");
        Actor actor = Requests.actor(ctx);
        idempotency.respond(ctx, "preview.promote:" + project + ":" + name, () -> {
            Releases.Promoted promoted = previews.promote(actor, project, name);
            return new Idempotency.Answer(200, new PreviewPromotion(project, name, promoted.release().version(),
                    promoted.release().description().substring("preview ".length()), promoted.release().commitSha(),
                    promoted.release().source(), promoted.live(), promoted.message()));
        });
    }
}
