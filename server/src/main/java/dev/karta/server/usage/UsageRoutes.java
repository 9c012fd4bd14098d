package dev.karta.server.usage;

import static dev.karta.server.http.Scope.READ;

import dev.karta.server.http.ApiError;
import dev.karta.server.http.Requests;
import dev.karta.server.http.Routes;
import dev.karta.server.projects.ProjectRecord;
import dev.karta.server.projects.Projects;
import io.javalin.config.JavalinConfig;
import io.javalin.config.RoutesConfig;
import io.javalin.http.Context;
import java.time.YearMonth;
import java.time.ZoneOffset;
import java.util.regex.Pattern;

/** Handler of {@code GET /agent_projects/{p}/usage?period=YYYY-MM} (default: this month, UTC). */
public final class UsageRoutes implements Routes {
    private static final Pattern PERIOD = Pattern.compile("(\\d{4})-(0[1-9]|1[0-2])");

    private final Projects projects;
    private final UsageStore store;

    public UsageRoutes(Projects projects, UsageStore store) {
        this.projects = projects;
        this.store = store;
    }

    @Override
    public void register(JavalinConfig config) {
        RoutesConfig r = config.routes;
        r.get("/agent_projects/{project}/usage", this::show, READ);
    }

    public void show(Context ctx) {
        ProjectRecord project = projects.require(Requests.principal(ctx).orgId(), ctx.pathParam("project"));
        ctx.json(store.of(project.id(), period(ctx.queryParam("period"))));
    }

    static YearMonth period(String raw) {
        if (raw == null || raw.isBlank()) {
            return YearMonth.now(ZoneOffset.UTC);
        }
        var m = PERIOD.matcher(raw.trim());
        if (!m.matches()) {
            throw ApiError.badRequest("invalid period '" + raw + "': use YYYY-MM, e.g. 2026-11");
        }
        return YearMonth.of(Integer.parseInt(m.group(1)), Integer.parseInt(m.group(2)));
    }
}
