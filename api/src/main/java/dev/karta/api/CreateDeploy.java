package dev.karta.api;

/** Body of {@code POST /agent_projects/{p}/deploys}. */
public record CreateDeploy(String commitSha) {
}
