package dev.karta.api;

/** Answer of a rollback: the version now active and the one that was. */
public record RollbackResult(String project, String active, String previous) {
}
