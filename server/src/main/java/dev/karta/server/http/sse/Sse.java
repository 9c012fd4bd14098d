package dev.karta.server.http.sse;

import dev.karta.server.http.ApiError;
import io.javalin.http.Context;
import jakarta.servlet.http.HttpServletResponse;
import java.nio.charset.StandardCharsets;

/**
 * What every server-sent event stream shares: the response headers, the frame format and the
 * {@code Last-Event-ID} a reconnecting client resumes from. Project logs and build logs write
 * through {@link SseStream} (non-blocking); a session turn writes its frames itself, blocking, on
 * the thread that runs the turn.
 */
public final class Sse {
    private Sse() {
    }

    /** Answers 200 with the {@code text/event-stream} headers (no caching, no proxy buffering). */
    public static void startResponse(HttpServletResponse res) {
        res.setStatus(200);
        res.setContentType("text/event-stream;charset=utf-8");
        res.setHeader("Cache-Control", "no-cache");
        res.setHeader("X-Accel-Buffering", "no");
    }

    /** The {@code Last-Event-ID} header as an entry id, null when absent; 400 when not a number. */
    public static Long lastEventId(Context ctx) {
        String header = ctx.header("Last-Event-ID");
        if (header == null || header.isBlank()) {
            return null;
        }
        try {
            long id = Long.parseLong(header.trim());
            if (id < 0) {
                throw new NumberFormatException();
            }
            return id;
        } catch (NumberFormatException e) {
            throw ApiError.badRequest("Last-Event-ID must be the id of a log entry (a number), got '" + header + "'");
        }
    }

    /** One frame: {@code id:} when given, {@code event:}, and the JSON payload as its one data line. */
    public static byte[] event(String id, String name, String data) {
        StringBuilder out = new StringBuilder(data.length() + 48);
        if (id != null) {
            out.append("id: ").append(id).append('\n');
        }
        out.append("event: ").append(name).append('\n');
        // JSON never holds a raw line break, so one data line is the whole payload.
        out.append("data: ").append(data).append("\n\n");
        return out.toString().getBytes(StandardCharsets.UTF_8);
    }
}
