package dev.karta.api;

/**
 * Body of {@code POST /oidc/github/token}: the OIDC token a GitHub Actions job obtained (with
 * {@code permissions: id-token: write} and Karta's public URL as the audience), and the project it
 * wants to deploy.
 */
public record OidcTokenRequest(String token, String project) {
}
