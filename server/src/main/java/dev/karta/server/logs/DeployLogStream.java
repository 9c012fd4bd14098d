package dev.karta.server.logs;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.karta.server.deploys.DeployRecord;
import io.javalin.http.Context;
import java.util.function.UnaryOperator;

/**
 * Streams one deploy's build log over SSE on the project's {@link LogFeeds} feed: every entry of
 * the deploy after {@code Last-Event-ID} (all of them by default) as {@code event: log} with the
 * entry id as SSE id, then live entries as they are written, then {@code event: end} carrying the
 * finished deploy, and the stream closes. Heartbeat comments keep idle streams open. The deploy
 * is read again only when its log grows (and every few seconds), once for all of its followers.
 */
public final class DeployLogStream {
    private final LogFeeds feeds;
    private final ObjectMapper json;

    public DeployLogStream(LogFeeds feeds, ObjectMapper json) {
        this.feeds = feeds;
        this.json = json;
    }

    /** Starts following {@code deploy}; {@code refresh} re-reads it to learn when it has ended. */
    public void follow(Context ctx, DeployRecord deploy, UnaryOperator<DeployRecord> refresh) {
        Long lastEventId = LogFeeds.lastEventId(ctx);
        feeds.follow(ctx, deploy.projectId(), new LogFilter(null, deploy.id()),
                lastEventId == null ? 0 : lastEventId, deploy.id(), () -> {
                    DeployRecord current = refresh.apply(deploy);
                    return current.status().isTerminal() ? write(current) : null;
                });
    }

    private String write(DeployRecord deploy) {
        try {
            return json.writeValueAsString(deploy.toWire());
        } catch (JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
    }
}
