package dev.karta.server.migration;

/**
 * Why an export, import or storage migration stopped: one sentence for the operator, naming the
 * table, release or repository at fault. The command prints it and exits non-zero.
 */
public final class MigrationFailed extends RuntimeException {
    public MigrationFailed(String message) {
        super(message);
    }
}
