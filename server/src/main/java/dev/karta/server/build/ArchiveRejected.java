package dev.karta.server.build;

import dev.karta.server.http.ApiError;

/**
 * A source archive broke one of the materialization rules. {@code rule} names it (for example
 * {@code entry_escapes_tree}); size caps answer 413, every other rule 422.
 */
public final class ArchiveRejected extends RuntimeException {
    private final String rule;
    private final boolean tooLarge;

    ArchiveRejected(String rule, boolean tooLarge, String message) {
        super(message, null, false, false);
        this.rule = rule;
        this.tooLarge = tooLarge;
    }

    static ArchiveRejected tooLarge(String rule, String message) {
        return new ArchiveRejected(rule, true, message);
    }

    static ArchiveRejected invalid(String rule, String message) {
        return new ArchiveRejected(rule, false, message);
    }

    public String rule() {
        return rule;
    }

    public ApiError toApiError() {
        return new ApiError(tooLarge ? ApiError.Kind.TOO_LARGE : ApiError.Kind.UNPROCESSABLE, rule, getMessage());
    }
}
