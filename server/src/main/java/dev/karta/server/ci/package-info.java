/**
 * Keyless CI: a project's trusts in GitHub Actions workflow identities, and the exchange of a
 * GitHub Actions OIDC token (checked against the issuer's published keys and a trust of the project
 * it names) for a short-lived write key restricted to that project. No secret is stored anywhere.
 */
package dev.karta.server.ci;
