package dev.karta.api;

/** Body of {@code POST /agent_projects/{p}/rollback}: {@code to} is "v3" or "3". */
public record RollbackRequest(String to) {
}
