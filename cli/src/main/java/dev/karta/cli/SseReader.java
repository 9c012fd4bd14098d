package dev.karta.cli;

import java.io.BufferedReader;
import java.io.FilterInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Reads server-sent events as the WHATWG HTML standard ("Server-sent events", §9.2.6) defines
 * them: {@code field: value} lines, a blank line dispatches, {@code :} starts a comment (the
 * server's heartbeats), several {@code data} lines join with a newline, an event without data is
 * not dispatched, and an unfinished event at the end of the stream is dropped.
 */
final class SseReader {

    /** One dispatched event; {@code type} is "message" unless the server named it. */
    record Event(String type, String id, String data) {
    }

    private final BufferedReader in;
    private String lastEventId;

    SseReader(BufferedReader in) {
        this.in = in;
    }

    /**
     * Reads every event of {@code body} into {@code events}, then {@code endOfStream}; a dropped
     * connection ends the stream the same way (the caller reconnects). Each read stamps
     * {@code lastActivity} (nanoTime), so the caller can spot a silent stream.
     */
    static void pump(InputStream body, AtomicLong lastActivity, BlockingQueue<Object> events, Object endOfStream) {
        InputStream watched = new FilterInputStream(body) {
            @Override
            public int read(byte[] buffer, int offset, int length) throws IOException {
                int n = super.read(buffer, offset, length);
                lastActivity.set(System.nanoTime());
                return n;
            }
        };
        try {
            SseReader sse = new SseReader(new BufferedReader(new InputStreamReader(watched, StandardCharsets.UTF_8)));
            for (Event event; (event = sse.next()) != null; ) {
                events.add(event);
            }
        } catch (IOException dropped) {
            // the same as the end of the stream
        }
        events.add(endOfStream);
    }

    /** The id of the last event seen, as a reconnecting client sends it in {@code Last-Event-ID}. */
    String lastEventId() {
        return lastEventId;
    }

    /** The next event, or null when the stream ends. */
    Event next() throws IOException {
        String type = null;
        StringBuilder data = null;
        String id = null;
        for (String line; (line = in.readLine()) != null; ) {
            if (line.isEmpty()) {
                if (id != null) {
                    lastEventId = id;
                }
                if (data != null) {
                    return new Event(type == null || type.isEmpty() ? "message" : type, lastEventId, data.toString());
                }
                type = null;
                id = null;
                continue;
            }
            if (line.startsWith(":")) {
                continue;
            }
            int colon = line.indexOf(':');
            String field = colon < 0 ? line : line.substring(0, colon);
            String value = colon < 0 ? "" : line.substring(colon + 1);
            if (value.startsWith(" ")) {
                value = value.substring(1);
            }
            switch (field) {
                case "event" -> type = value;
                case "data" -> data = data == null ? new StringBuilder(value) : data.append('\n').append(value);
                case "id" -> {
                    if (value.indexOf('\0') < 0) {
                        id = value;
                    }
                }
                default -> {
                    // "retry" and unknown fields: ignored, as the standard says
                }
            }
        }
        return null;
    }
}
