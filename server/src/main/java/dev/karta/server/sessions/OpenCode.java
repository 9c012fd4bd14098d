package dev.karta.server.sessions;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.ArrayList;
import java.util.List;

/**
 * OpenCode: {@code opencode run --format json} with the message on stdin, later turns with
 * {@code --session ID}. It prints one JSON object per line, each with its {@code sessionID}:
 * {@code step_start}, {@code text} (one finished text part in {@code part.text}),
 * {@code tool_use}, {@code step_finish} and {@code error}. There is no final result event: a
 * clean exit after a finished step ends the turn, and the reply is its text parts. An unknown
 * {@code --session} id makes it print {@code Error: Session not found} on stderr (in colour) and
 * exit 1.
 */
final class OpenCode implements Harness {
    /** What OpenCode says about an unknown {@code --session} id. */
    static final String CONVERSATION_LOST = "Session not found";

    @Override
    public String name() {
        return "opencode";
    }

    @Override
    public List<String> argv(String executable, String conversationId) {
        List<String> argv = new ArrayList<>(List.of(executable, "run", "--format", "json"));
        if (conversationId != null) {
            argv.addAll(List.of("--session", conversationId));
        }
        return argv;
    }

    /** OpenCode's lines stand alone: the reader keeps no state. */
    @Override
    public Reader reader() {
        return OpenCode::read;
    }

    @Override
    public boolean saysConversationLost(String text) {
        return text.contains(CONVERSATION_LOST);
    }

    private static List<HarnessEvent> read(JsonNode line) {
        String type = line.path("type").asText();
        List<HarnessEvent> events = new ArrayList<>();
        switch (type) {
            case "text" -> {
                conversation(line, events);
                JsonNode text = line.path("part").path("text");
                if (text.isTextual() && !text.asText().isEmpty()) {
                    events.add(new HarnessEvent.NewPart());
                    events.add(new HarnessEvent.Delta(text.asText()));
                }
            }
            case "step_start", "tool_use" -> conversation(line, events);
            case "step_finish" -> {
                conversation(line, events);
                events.add(new HarnessEvent.Result());
            }
            case "error" -> {
                conversation(line, events);
                String message = errorMessage(line.path("error"));
                events.add(new HarnessEvent.Failure("opencode failed: " + message, message.contains(CONVERSATION_LOST)));
            }
            default -> {
                // Unknown event types are skipped, not fatal: newer OpenCode versions add some.
            }
        }
        return events;
    }

    private static void conversation(JsonNode line, List<HarnessEvent> events) {
        String id = line.path("sessionID").asText("");
        if (!id.isBlank()) {
            events.add(new HarnessEvent.Conversation(id));
        }
    }

    private static String errorMessage(JsonNode error) {
        for (JsonNode candidate : List.of(error.path("data").path("message"), error.path("message"), error.path("name"))) {
            if (candidate.isTextual() && !candidate.asText().isBlank()) {
                return candidate.asText();
            }
        }
        return error.isMissingNode() ? "no detail" : error.toString();
    }

    @Override
    public String completionEvent() {
        return "step_finish";
    }
}
