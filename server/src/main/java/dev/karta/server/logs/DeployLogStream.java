package dev.karta.server.logs;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.karta.server.http.sse.Sse;
import io.javalin.http.Context;
import java.util.function.Supplier;

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

    /**
     * Starts following the log of deploy {@code deployId}; {@code ended} re-reads the deploy and
     * answers its wire form once it has finished, null while it runs.
     */
    public void follow(Context ctx, String projectId, String deployId, Supplier<Object> ended) {
        Long lastEventId = Sse.lastEventId(ctx);
        feeds.follow(ctx, projectId, new LogFilter(null, deployId),
                lastEventId == null ? 0 : lastEventId, deployId, () -> {
                    Object finished = ended.get();
                    return finished == null ? null : write(finished);
                });
    }

    private String write(Object deploy) {
        try {
            return json.writeValueAsString(deploy);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
    }
}
