package dev.karta.server.build;

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

    /** Whether a size cap was passed (answered 413) rather than another rule (422). */
    public boolean tooLarge() {
        return tooLarge;
    }
}
