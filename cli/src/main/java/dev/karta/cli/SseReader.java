package dev.karta.cli;

import java.io.BufferedReader;
import java.io.IOException;

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
