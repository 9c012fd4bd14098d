package dev.karta.server.sessions;

import dev.karta.server.http.ApiError;

/** Why a turn produced no reply; each kind is one error answer. */
final class TurnFailed extends Exception {

    enum Kind {
        /** The harness is missing, exited non-zero, printed garbage or too much, or reported an error: 502. */
        HARNESS_FAILED,
        /** The harness did not finish within the turn timeout: 504. */
        HARNESS_TIMEOUT,
        /** The session was ended while the turn ran: 409. */
        SESSION_ENDED,
        /**
         * The harness says the conversation it was asked to resume does not exist: the session's
         * harness state is gone and no later turn can resume it either: 409.
         */
        SESSION_STATE_LOST,
        /** The server stopped while the turn ran: 503. */
        SERVER_STOPPING,
        /** The session's workspace could not be prepared or its saved state restored: 503. */
        WORKSPACE_UNAVAILABLE
    }

    private final Kind kind;

    TurnFailed(Kind kind, String message) {
        super(message, null, false, false);
        this.kind = kind;
    }

    static TurnFailed failed(String message) {
        return new TurnFailed(Kind.HARNESS_FAILED, message);
    }

    Kind kind() {
        return kind;
    }

    /** The turn's status in {@code session_turns}. */
    String turnStatus() {
        return kind == Kind.HARNESS_TIMEOUT ? "timed_out" : "failed";
    }

    ApiError toApiError() {
        return switch (kind) {
            case HARNESS_FAILED -> new ApiError(ApiError.Kind.BAD_GATEWAY, "harness_failed", getMessage());
            case HARNESS_TIMEOUT -> new ApiError(ApiError.Kind.GATEWAY_TIMEOUT, "harness_timeout", getMessage());
            case SESSION_ENDED -> new ApiError(ApiError.Kind.CONFLICT, "session_ended", getMessage());
            case SESSION_STATE_LOST -> new ApiError(ApiError.Kind.CONFLICT, "session_state_lost", getMessage());
            case SERVER_STOPPING -> ApiError.unavailable(getMessage());
            case WORKSPACE_UNAVAILABLE -> new ApiError(ApiError.Kind.UNAVAILABLE, "workspace_unavailable", getMessage());
        };
    }
}
