package dev.karta.api;

/**
 * Body of {@code POST /agent_projects/{p}/ci_trusts}: the provider ({@code github}, the default),
 * the repository as {@code OWNER/REPO}, the full ref ({@code refs/heads/main}) and, optionally, the
 * deployment environment the workflow job must run in.
 */
public record CreateCiTrust(String provider, String repository, String ref, String environment) {
}
