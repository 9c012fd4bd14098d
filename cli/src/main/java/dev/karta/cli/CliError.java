package dev.karta.cli;

import dev.karta.api.ErrorBody;

/**
 * The one error type of the CLI: a sentence for the user and the {@link Kind} that fixes the
 * exit code. Server errors map by HTTP status, exactly as the server's {@code ApiError} kinds do.
 */
final class CliError extends RuntimeException {

    /** What went wrong, and the exit code the process ends with. */
    enum Kind {
        FAILED(1),
        /** The server could not be reached, or answered 502/503/504: worth retrying. */
        UNAVAILABLE(1),
        USAGE(2),
        AUTH(3),
        NOT_FOUND(4);

        private final int exitCode;

        Kind(int exitCode) {
            this.exitCode = exitCode;
        }

        int exitCode() {
            return exitCode;
        }

        static Kind ofStatus(int status) {
            return switch (status) {
                case 401, 403 -> AUTH;
                case 404 -> NOT_FOUND;
                case 502, 503, 504 -> UNAVAILABLE;
                default -> FAILED;
            };
        }
    }

    private final Kind kind;
    private final int httpStatus;

    CliError(Kind kind, String message) {
        this(kind, message, 0);
    }

    private CliError(Kind kind, String message, int httpStatus) {
        super(message, null, false, false);
        this.kind = kind;
        this.httpStatus = httpStatus;
    }

    Kind kind() {
        return kind;
    }

    /** The status of the server's answer this error stands for; 0 when it did not come from one. */
    int httpStatus() {
        return httpStatus;
    }

    int exitCode() {
        return kind.exitCode();
    }

    static CliError usage(String message) {
        return new CliError(Kind.USAGE, message);
    }

    static CliError auth(String message) {
        return new CliError(Kind.AUTH, message);
    }

    static CliError failed(String message) {
        return new CliError(Kind.FAILED, message);
    }

    static CliError unavailable(String message) {
        return new CliError(Kind.UNAVAILABLE, message);
    }

    /**
     * This error, or a usage error (exit 2) with the same message when the server rejected the
     * request as malformed (400): for commands whose only input the server checks is an option
     * value, such as {@code --limit}.
     */
    CliError badRequestAsUsage() {
        return httpStatus == 400 ? new CliError(Kind.USAGE, getMessage(), httpStatus) : this;
    }

    /**
     * An {@code event: error} that ended a stream the server had answered 200 (its key was
     * revoked meanwhile, say): the same error as if the server had answered it with a status.
     */
    static CliError ofStreamError(ErrorBody body) {
        int status = switch (body == null || body.error() == null ? "" : body.error()) {
            case "unauthorized" -> 401;
            case "forbidden" -> 403;
            case "not_found" -> 404;
            default -> 0;
        };
        String message = body != null && body.message() != null && !body.message().isBlank()
                ? body.message() : "the server ended the stream with an error";
        return status == 0 ? new CliError(Kind.FAILED, message) : new CliError(Kind.ofStatus(status), message, status);
    }

    /** A server's error answer; the body's message when it is {@code {"error","message"}}. */
    static CliError ofResponse(int status, ErrorBody body, String method, String url) {
        String message = body != null && body.message() != null && !body.message().isBlank()
                ? body.message()
                : "the server answered HTTP " + status + " to " + method + " " + url;
        return new CliError(Kind.ofStatus(status), message, status);
    }
}
