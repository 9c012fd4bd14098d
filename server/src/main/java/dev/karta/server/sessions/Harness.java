package dev.karta.server.sessions;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.List;

/**
 * A harness CLI as a turn sees it: the argv of one turn and the meaning of each JSON line it
 * prints on stdout. Implementations hold no state; the process itself is run by
 * {@link HarnessProcess}.
 */
interface Harness {

    /** The release harness name this adapter runs: {@code claude} or {@code opencode}. */
    String name();

    /**
     * The argv of one turn. {@code conversationId} is the id the harness reported on an earlier
     * turn of the session, or null on the first one. The text is one argv entry, never parsed by
     * a shell; a text starting with {@code -} goes after a {@code --} end-of-options marker so it
     * can never be read as an option.
     */
    List<String> argv(String executable, String text, String conversationId);

    /** The events one parsed output line carries; an unknown event type carries none. */
    List<HarnessEvent> read(JsonNode line);

    /**
     * The event type that marks a complete reply ({@link HarnessEvent.Result}): a turn that exits
     * without one has failed, whatever its exit status.
     */
    String completionEvent();

    /**
     * Whether this line ends the turn: the harness has said all it will, so its turn is over even
     * if it (or a child it left behind) lingers or keeps stdout open. False by default: a harness
     * without such an event ends its turn by exiting.
     */
    default boolean endsTurn(JsonNode line) {
        return false;
    }

    /** The adapter for a release's detected harness. */
    static Harness of(String name) {
        return switch (name) {
            case "claude" -> new ClaudeCode();
            case "opencode" -> new OpenCode();
            default -> throw new IllegalArgumentException("unknown harness '" + name + "'");
        };
    }

    /** Adds {@code text} to {@code argv}, after {@code --} when it could pass for an option. */
    static void addText(List<String> argv, String text) {
        if (text.startsWith("-")) {
            argv.add("--");
        }
        argv.add(text);
    }
}
