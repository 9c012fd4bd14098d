package dev.karta.server.sessions;

/** What one line of harness output means to Karta, whatever harness printed it. */
sealed interface HarnessEvent {

    /** The next piece of the assistant's reply. */
    record Delta(String text) implements HarnessEvent {
    }

    /** The harness's own conversation id, used to resume it on the next turn. */
    record Conversation(String id) implements HarnessEvent {
    }

    /**
     * The reply is complete: Claude Code's {@code result} (with the reply's final text) or an
     * OpenCode {@code step_finish} ({@code text} null: the reply is the deltas so far).
     */
    record Result(String text) implements HarnessEvent {
    }

    /** The harness reports that the turn failed. */
    record Failure(String message) implements HarnessEvent {
    }
}
