package dev.karta.server.sessions;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.List;

/**
 * A harness CLI as a turn sees it: the argv of one turn and the meaning of each JSON line it
 * prints on stdout. The message text is not in the argv: {@link HarnessProcess} writes it to the
 * harness's standard input, which both CLIs read as the prompt when none is given in argv, byte
 * for byte (OpenCode quotes an argv message that contains a space before the model sees it) and
 * without the kernel's limit on one argv entry. Adapters hold no state; a {@link Reader} holds
 * the state of one turn's output.
 */
interface Harness {

    /** The release harness name this adapter runs: {@code claude} or {@code opencode}. */
    String name();

    /**
     * The argv of one turn. {@code conversationId} is the id the harness reported on an earlier
     * turn of the session, or null on the first one.
     */
    List<String> argv(String executable, String conversationId);

    /** A reader of one turn's output lines, in the order printed. */
    Reader reader();

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

    /**
     * Whether {@code text} (the harness's stderr, or an error it reported) says the conversation
     * it was asked to resume does not exist: its saved state is gone, and every later turn would
     * fail the same way.
     */
    boolean saysConversationLost(String text);

    /** Maps one turn's output lines to events; may keep state from one line to the next. */
    interface Reader {
        /** The events one parsed output line carries; an unknown event type carries none. */
        List<HarnessEvent> read(JsonNode line);
    }

    /** The adapter for a release's detected harness. */
    static Harness of(String name) {
        return switch (name) {
            case "claude" -> new ClaudeCode();
            case "opencode" -> new OpenCode();
            default -> throw new IllegalArgumentException("unknown harness '" + name + "'");
        };
    }
}
