package dev.karta.api;

/** Body of {@code POST /agent_projects}. */
public record CreateProject(String name) {
}
