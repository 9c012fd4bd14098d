package dev.karta.api;

/** Answer 202 of a deploy by commit. */
public record DeployAccepted(boolean accepted, String project, String commitSha, String deployId) {
}
