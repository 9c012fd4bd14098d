package dev.karta.server.sessions;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.ArrayList;
import java.util.List;

/**
 * Claude Code in print mode: {@code claude -p TEXT --output-format stream-json --verbose}, later
 * turns with {@code --resume ID}. It prints one JSON object per line: {@code system/init} with the
 * {@code session_id}, {@code assistant} messages whose {@code text} content parts are the reply,
 * and last a {@code result} ({@code is_error}, {@code result}, {@code session_id}).
 */
final class ClaudeCode implements Harness {

    @Override
    public String name() {
        return "claude";
    }

    @Override
    public List<String> argv(String executable, String text, String conversationId) {
        List<String> argv = new ArrayList<>(List.of(executable, "-p"));
        boolean optionLike = text.startsWith("-");
        if (!optionLike) {
            argv.add(text);
        }
        argv.addAll(List.of("--output-format", "stream-json", "--verbose"));
        if (conversationId != null) {
            argv.addAll(List.of("--resume", conversationId));
        }
        if (optionLike) {
            Harness.addText(argv, text);
        }
        return argv;
    }

    @Override
    public List<HarnessEvent> read(JsonNode line) {
        List<HarnessEvent> events = new ArrayList<>();
        switch (line.path("type").asText()) {
            case "system" -> {
                if ("init".equals(line.path("subtype").asText())) {
                    conversation(line, events);
                }
            }
            case "assistant" -> {
                for (JsonNode part : line.path("message").path("content")) {
                    if ("text".equals(part.path("type").asText()) && part.path("text").isTextual()) {
                        events.add(new HarnessEvent.Delta(part.path("text").asText()));
                    }
                }
            }
            case "result" -> {
                conversation(line, events);
                String subtype = line.path("subtype").asText("");
                if (line.path("is_error").asBoolean(false) || subtype.startsWith("error")) {
                    String detail = line.path("result").isTextual() ? line.path("result").asText()
                            : line.path("errors").isMissingNode() ? "" : line.path("errors").toString();
                    events.add(new HarnessEvent.Failure("claude reported " + (subtype.isEmpty() ? "an error" : subtype)
                            + (detail.isBlank() ? "" : ": " + detail)));
                } else {
                    events.add(new HarnessEvent.Result(line.path("result").asText("")));
                }
            }
            default -> {
                // user (tool results), stream_event and types added later carry nothing for the reply.
            }
        }
        return events;
    }

    private static void conversation(JsonNode line, List<HarnessEvent> events) {
        String id = line.path("session_id").asText("");
        if (!id.isBlank()) {
            events.add(new HarnessEvent.Conversation(id));
        }
    }

    @Override
    public String completionEvent() {
        return "result";
    }

    /** The {@code result} event is Claude Code's last word on a turn, success or error. */
    @Override
    public boolean endsTurn(JsonNode line) {
        return "result".equals(line.path("type").asText());
    }
}
