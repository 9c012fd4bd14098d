package dev.karta.api;

/**
 * Answer of a rollback, of an activation and of an unpin: the version now active, the one that
 * was, and the project's pin afterwards (null when not pinned).
 */
public record RollbackResult(String project, String active, String previous, Pin pinned) {
}
