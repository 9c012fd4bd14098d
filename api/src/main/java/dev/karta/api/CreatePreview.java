package dev.karta.api;

/** Body of {@code POST /agent_projects/{p}/previews}: {@code {"name":"pr-42","commit_sha":"…"}}. */
public record CreatePreview(String name, String commitSha) {
}
