package dev.karta.server.sessions;

/** What one line of harness output means to Karta, whatever harness printed it. */
sealed interface HarnessEvent {

    /** The next piece of the assistant's reply, within the current text part. */
    record Delta(String text) implements HarnessEvent {
    }

    /**
     * A new text part of the reply begins (a Claude Code text content block, an OpenCode
     * {@code text} part): the reply is its parts joined by a blank line.
     */
    record NewPart() implements HarnessEvent {
    }

    /** The harness's own conversation id, used to resume it on the next turn. */
    record Conversation(String id) implements HarnessEvent {
    }

    /**
     * The reply is complete: Claude Code's {@code result} or an OpenCode {@code step_finish}. The
     * reply is the text of the deltas so far.
     */
    record Result() implements HarnessEvent {
    }

    /**
     * Something the person waiting should know while no text comes (Claude Code retrying its
     * model API), worded for them.
     */
    record Progress(String message) implements HarnessEvent {
    }

    /**
     * The harness reports that the turn failed; {@code conversationLost} when it says the
     * conversation it was asked to resume does not exist (its saved state is gone).
     */
    record Failure(String message, boolean conversationLost) implements HarnessEvent {
        Failure(String message) {
            this(message, false);
        }
    }
}
