package dev.karta.server.sessions;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.ArrayList;
import java.util.List;

/**
 * OpenCode: {@code opencode run --format json TEXT}, later turns with {@code --session ID}. It
 * prints one JSON object per line, each with its {@code sessionID}: {@code step_start},
 * {@code text} (the reply in {@code part.text}), {@code tool_use}, {@code step_finish} and
 * {@code error}. There is no final result event: a clean exit after a finished step ends the
 * turn, and the reply is its text parts.
 */
final class OpenCode implements Harness {

    @Override
    public String name() {
        return "opencode";
    }

    @Override
    public List<String> argv(String executable, String text, String conversationId) {
        List<String> argv = new ArrayList<>(List.of(executable, "run", "--format", "json"));
        boolean optionLike = text.startsWith("-");
        if (!optionLike) {
            argv.add(text);
        }
        if (conversationId != null) {
            argv.addAll(List.of("--session", conversationId));
        }
        if (optionLike) {
            Harness.addText(argv, text);
        }
        return argv;
    }

    @Override
    public List<HarnessEvent> read(JsonNode line) {
        String type = line.path("type").asText();
        List<HarnessEvent> events = new ArrayList<>();
        switch (type) {
            case "text" -> {
                conversation(line, events);
                JsonNode text = line.path("part").path("text");
                if (text.isTextual()) {
                    events.add(new HarnessEvent.Delta(text.asText()));
                }
            }
            case "step_start", "tool_use" -> conversation(line, events);
            case "step_finish" -> {
                conversation(line, events);
                events.add(new HarnessEvent.Result(null));
            }
            case "error" -> {
                conversation(line, events);
                events.add(new HarnessEvent.Failure("opencode reported an error: " + errorMessage(line.path("error"))));
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
