package dev.karta.server.http;

import dev.karta.server.store.Database;
import java.time.Duration;

/**
 * The one error type features throw. Its {@link Kind} fixes the HTTP status and the machine
 * code; the message is one sentence a person can act on. {@code http/} renders it.
 */
public final class ApiError extends RuntimeException {

    /** What went wrong, with its HTTP status and default machine code. */
    public enum Kind {
        BAD_REQUEST(400, "bad_request"),
        UNAUTHORIZED(401, "unauthorized"),
        FORBIDDEN(403, "forbidden"),
        NOT_FOUND(404, "not_found"),
        METHOD_NOT_ALLOWED(405, "method_not_allowed"),
        CONFLICT(409, "conflict"),
        TOO_LARGE(413, "payload_too_large"),
        UNSUPPORTED_MEDIA_TYPE(415, "unsupported_media_type"),
        UNPROCESSABLE(422, "unprocessable"),
        TOO_MANY_REQUESTS(429, "too_many_requests"),
        INTERNAL(500, "internal"),
        BAD_GATEWAY(502, "bad_gateway"),
        UNAVAILABLE(503, "unavailable"),
        GATEWAY_TIMEOUT(504, "gateway_timeout");

        private final int status;
        private final String code;

        Kind(int status, String code) {
            this.status = status;
            this.code = code;
        }

        public int status() {
            return status;
        }

        public String code() {
            return code;
        }

        public static Kind ofStatus(int status) {
            for (Kind kind : values()) {
                if (kind.status == status) {
                    return kind;
                }
            }
            return status >= 500 ? INTERNAL : BAD_REQUEST;
        }
    }

    private final Kind kind;
    private final String code;
    private final Duration retryAfter;

    public ApiError(Kind kind, String code, String message) {
        this(kind, code, message, null);
    }

    private ApiError(Kind kind, String code, String message, Duration retryAfter) {
        super(message, null, false, false);
        this.kind = kind;
        this.code = code;
        this.retryAfter = retryAfter;
    }

    public ApiError(Kind kind, String message) {
        this(kind, kind.code(), message);
    }

    public Kind kind() {
        return kind;
    }

    public String code() {
        return code;
    }

    /** When the client may try again, sent as {@code Retry-After} (whole seconds); null for none. */
    public Duration retryAfter() {
        return retryAfter;
    }

    /** {@link #retryAfter} in whole seconds, rounded up and at least 1 ({@code 0} would invite a tight loop). */
    public long retryAfterSeconds() {
        return Math.max(1, (retryAfter.toMillis() + 999) / 1000);
    }

    public static ApiError badRequest(String message) {
        return new ApiError(Kind.BAD_REQUEST, message);
    }

    public static ApiError unauthorized(String message) {
        return new ApiError(Kind.UNAUTHORIZED, message);
    }

    public static ApiError forbidden(String message) {
        return new ApiError(Kind.FORBIDDEN, message);
    }

    /** A resource that does not exist, or belongs to another org (the two look the same). */
    public static ApiError notFound(String what, String name) {
        return new ApiError(Kind.NOT_FOUND, what + " '" + name + "' not found");
    }

    public static ApiError conflict(String message) {
        return new ApiError(Kind.CONFLICT, message);
    }

    public static ApiError tooLarge(String message) {
        return new ApiError(Kind.TOO_LARGE, message);
    }

    public static ApiError unprocessable(String message) {
        return new ApiError(Kind.UNPROCESSABLE, message);
    }

    public static ApiError unprocessable(String code, String message) {
        return new ApiError(Kind.UNPROCESSABLE, code, message);
    }

    public static ApiError tooManyRequests(String message) {
        return new ApiError(Kind.TOO_MANY_REQUESTS, message);
    }

    /** A 429 whose answer carries {@code Retry-After: retryAfter} (RFC 9110 §10.2.3). */
    public static ApiError tooManyRequests(String message, Duration retryAfter) {
        return new ApiError(Kind.TOO_MANY_REQUESTS, Kind.TOO_MANY_REQUESTS.code(), message, retryAfter);
    }

    public static ApiError unavailable(String message) {
        return new ApiError(Kind.UNAVAILABLE, message);
    }

    /** How soon a client may try again while the database is unreachable. */
    public static final Duration DATABASE_RETRY = Duration.ofSeconds(5);

    /**
     * The 503 of a request that needed the database while it could not be reached (PostgreSQL
     * restarting, the network to it cut), with {@code Retry-After}: the server recovers by itself.
     */
    public static ApiError databaseUnreachable() {
        return new ApiError(Kind.UNAVAILABLE, Kind.UNAVAILABLE.code(),
                "the database is unreachable; try again shortly", DATABASE_RETRY);
    }

    /** {@link #databaseUnreachable} when {@code e} says the database cannot be reached, else null. */
    public static ApiError ifDatabaseUnreachable(Throwable e) {
        return Database.isUnreachable(e) ? databaseUnreachable() : null;
    }
}
