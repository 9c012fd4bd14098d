package dev.karta.server.logs;

import static dev.karta.server.http.Scope.READ;

import dev.karta.api.Durations;
import dev.karta.api.LogEntries;
import dev.karta.server.http.ApiError;
import dev.karta.server.http.Requests;
import dev.karta.server.http.Routes;
import dev.karta.server.http.sse.Sse;
import io.javalin.config.JavalinConfig;
import io.javalin.config.RoutesConfig;
import io.javalin.http.Context;
import java.time.Instant;
import java.util.Locale;

/**
 * {@code GET /agent_projects/{p}/logs}: a window of the project's log as JSON, or with
 * {@code Accept: text/event-stream} or {@code ?tail=true} a live SSE tail (docs/logs.md).
 */
public final class LogRoutes implements Routes {
    static final int DEFAULT_LIMIT = 100;
    static final int MAX_LIMIT = 10_000;

    /** Finds a caller's project by name: its id, or a 404 {@link ApiError}. */
    @FunctionalInterface
    public interface ProjectIds {
        String require(String orgId, String projectName);
    }

    private final ProjectIds projects;
    private final LogStore store;
    private final LogFeeds feeds;

    public LogRoutes(ProjectIds projects, LogStore store, LogFeeds feeds) {
        this.projects = projects;
        this.store = store;
        this.feeds = feeds;
    }

    @Override
    public void register(JavalinConfig config) {
        RoutesConfig r = config.routes;
        r.get("/agent_projects/{project}/logs", this::logs, READ);
    }

    /**
     * JSON: the newest {@code limit} entries (default 100) with {@code since <= time < until},
     * oldest first. Tail: replays from {@code Last-Event-ID}, else from {@code since}, else the
     * last {@code limit} entries, then follows.
     */
    public void logs(Context ctx) {
        String projectId = projects.require(Requests.principal(ctx).orgId(), ctx.pathParam("project"));
        LogSource source = source(ctx.queryParam("source"));
        Instant now = Instant.now();
        Instant since = time("since", ctx.queryParam("since"), now);
        Instant until = time("until", ctx.queryParam("until"), now);
        if (since != null && until != null && !since.isBefore(until)) {
            throw ApiError.badRequest("since (" + since + ") must be before until (" + until + ")");
        }
        int limit = Requests.limit(ctx, DEFAULT_LIMIT, MAX_LIMIT);
        if (!wantsTail(ctx)) {
            ctx.json(new LogEntries(store.window(projectId, since, until, source, limit)));
            return;
        }
        if (until != null) {
            throw ApiError.badRequest("until cannot be used with a live tail: a tail follows new entries");
        }
        LogFilter filter = new LogFilter(source, null);
        Long lastEventId = Sse.lastEventId(ctx);
        long cursor = lastEventId != null ? lastEventId
                : since != null ? store.cursorBefore(projectId, since)
                : store.cursorBeforeLast(projectId, filter, limit);
        feeds.follow(ctx, projectId, filter, cursor, null, null);
    }

    private static boolean wantsTail(Context ctx) {
        String tail = ctx.queryParam("tail");
        if (tail != null && !tail.isBlank()) {
            return switch (tail.trim().toLowerCase(Locale.ROOT)) {
                case "true", "1" -> true;
                case "false", "0" -> false;
                default -> throw ApiError.badRequest("tail must be true or false, got '" + tail + "'");
            };
        }
        String accept = ctx.header("Accept");
        return accept != null && accept.contains("text/event-stream");
    }

    static LogSource source(String value) {
        if (value == null || value.isBlank()) {
            return null;
        }
        LogSource source = LogSource.parse(value.trim());
        if (source == null) {
            throw ApiError.badRequest("invalid source '" + value + "': use build, release, session or system");
        }
        return source;
    }

    /** An RFC 3339 time, or an age before {@code now} (see {@link Durations}); null when absent. */
    static Instant time(String name, String value, Instant now) {
        try {
            return Durations.timeOrAge(value, now);
        } catch (IllegalArgumentException e) {
            throw ApiError.badRequest("invalid " + name + " '" + value + "': " + Durations.TIME_FORMS);
        }
    }
}
