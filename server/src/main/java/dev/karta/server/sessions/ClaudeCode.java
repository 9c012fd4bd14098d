package dev.karta.server.sessions;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Set;

/**
 * Claude Code in print mode: {@code claude -p --output-format stream-json --verbose
 * --include-partial-messages} with the message on stdin, later turns with {@code --resume ID}.
 * It prints one JSON object per line: {@code system/init} with the {@code session_id};
 * {@code stream_event}s wrapping the model API's stream (a {@code content_block_start} of type
 * {@code text}, then its {@code content_block_delta}/{@code text_delta} tokens);
 * {@code assistant} messages repeating each streamed message whole; {@code system/api_retry}
 * while the model API fails; and last a {@code result} ({@code is_error}, {@code result} holding
 * only the last step's text, {@code errors}, {@code session_id}).
 *
 * <p>The reply is built from the streamed tokens. An {@code assistant} message adds text only
 * when its tokens were not streamed (a Claude Code without partial messages), and {@code result}
 * only when nothing else did: the reply is never counted twice. Claude Code's own messages
 * ({@code "model":"<synthetic>"}, such as "Not logged in") and the lines of a subagent (a
 * {@code parent_tool_use_id}) are not the reply.
 */
final class ClaudeCode implements Harness {
    /** What Claude Code prints (stderr and the result's {@code errors}) for an unknown {@code --resume} id. */
    static final String CONVERSATION_LOST = "No conversation found with session ID";
    /**
     * The model name of the messages Claude Code writes itself ("Not logged in", "API Error: …"):
     * an error result repeating them follows, and a successful one carries their text.
     */
    private static final String SYNTHETIC = "<synthetic>";

    @Override
    public String name() {
        return "claude";
    }

    @Override
    public List<String> argv(String executable, String conversationId) {
        List<String> argv = new ArrayList<>(List.of(executable, "-p", "--output-format", "stream-json", "--verbose",
                "--include-partial-messages"));
        if (conversationId != null) {
            argv.addAll(List.of("--resume", conversationId));
        }
        return argv;
    }

    @Override
    public Reader reader() {
        return new TurnReader();
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

    @Override
    public boolean saysConversationLost(String text) {
        return text.contains(CONVERSATION_LOST);
    }

    /** The state of one turn's output: which model messages had their text streamed. */
    private final class TurnReader implements Reader {
        private final Set<String> streamed = new HashSet<>();
        private String streaming = "";
        private boolean anyText;

        @Override
        public List<HarnessEvent> read(JsonNode line) {
            List<HarnessEvent> events = new ArrayList<>();
            if (line.path("parent_tool_use_id").isTextual()) {
                return events;
            }
            switch (line.path("type").asText()) {
                case "system" -> {
                    String subtype = line.path("subtype").asText();
                    if ("init".equals(subtype)) {
                        conversation(line, events);
                    } else if ("api_retry".equals(subtype)) {
                        events.add(new HarnessEvent.Progress(retry(line)));
                    }
                }
                case "stream_event" -> streamEvent(line.path("event"), events);
                case "assistant" -> {
                    JsonNode message = line.path("message");
                    if (streamed.contains(message.path("id").asText())
                            || SYNTHETIC.equals(message.path("model").asText())) {
                        break;
                    }
                    for (JsonNode part : message.path("content")) {
                        if ("text".equals(part.path("type").asText()) && part.path("text").isTextual()) {
                            text(part.path("text").asText(), events);
                        }
                    }
                }
                case "result" -> result(line, events);
                default -> {
                    // user (tool results) and types added later carry nothing for the reply.
                }
            }
            return events;
        }

        private void streamEvent(JsonNode event, List<HarnessEvent> events) {
            switch (event.path("type").asText()) {
                case "message_start" -> streaming = event.path("message").path("id").asText("");
                case "content_block_start" -> {
                    JsonNode block = event.path("content_block");
                    if ("text".equals(block.path("type").asText())) {
                        streamed.add(streaming);
                        events.add(new HarnessEvent.NewPart());
                        delta(block.path("text").asText(""), events);
                    }
                }
                case "content_block_delta" -> {
                    JsonNode delta = event.path("delta");
                    if ("text_delta".equals(delta.path("type").asText())) {
                        delta(delta.path("text").asText(""), events);
                    }
                }
                default -> {
                    // message_delta, message_stop, content_block_stop, thinking and tool input deltas.
                }
            }
        }

        private void result(JsonNode line, List<HarnessEvent> events) {
            conversation(line, events);
            String subtype = line.path("subtype").asText("");
            if (line.path("is_error").asBoolean(false) || subtype.startsWith("error")) {
                String detail = detail(line);
                String reason = detail.isBlank() ? (subtype.isBlank() ? "no detail given" : subtype) : detail;
                events.add(new HarnessEvent.Failure("claude failed: " + reason, saysConversationLost(detail)));
                return;
            }
            if (!anyText) {
                text(line.path("result").asText(""), events);
            }
            events.add(new HarnessEvent.Result());
        }

        private void text(String text, List<HarnessEvent> events) {
            if (!text.isEmpty()) {
                events.add(new HarnessEvent.NewPart());
                delta(text, events);
            }
        }

        private void delta(String text, List<HarnessEvent> events) {
            if (!text.isEmpty()) {
                anyText = true;
                events.add(new HarnessEvent.Delta(text));
            }
        }
    }

    /** The error text of an error result: its {@code result}, or its {@code errors} joined. */
    private static String detail(JsonNode line) {
        if (line.path("result").isTextual() && !line.path("result").asText().isBlank()) {
            return line.path("result").asText();
        }
        List<String> errors = new ArrayList<>();
        for (JsonNode error : line.path("errors")) {
            errors.add(error.isTextual() ? error.asText() : error.toString());
        }
        return String.join("; ", errors);
    }

    /** "claude: API retry 2/10 in 1.1 s: overloaded (529)" from a {@code system/api_retry} line. */
    private static String retry(JsonNode line) {
        StringBuilder text = new StringBuilder("claude: API retry");
        if (line.path("attempt").isNumber()) {
            text.append(' ').append(line.path("attempt").asInt());
            if (line.path("max_retries").isNumber()) {
                text.append('/').append(line.path("max_retries").asInt());
            }
        }
        if (line.path("retry_delay_ms").isNumber()) {
            text.append(String.format(Locale.ROOT, " in %.1f s", line.path("retry_delay_ms").asDouble() / 1000));
        }
        String error = line.path("error").isTextual() ? line.path("error").asText() : "";
        String status = line.path("error_status").isNumber() ? "(" + line.path("error_status").asInt() + ")" : "";
        if (!error.isBlank() || !status.isEmpty()) {
            text.append(": ").append(HarnessProcess.quote((error + " " + status).strip(), 200));
        }
        return text.toString();
    }

    private static void conversation(JsonNode line, List<HarnessEvent> events) {
        String id = line.path("session_id").asText("");
        if (!id.isBlank()) {
            events.add(new HarnessEvent.Conversation(id));
        }
    }
}
