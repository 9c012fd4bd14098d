package dev.karta.api;

/** The repository a project is bound to, and the branch that deploys. */
public record RepoBinding(String url, String branch) {
}
