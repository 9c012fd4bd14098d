package dev.karta.api;

import java.time.Instant;

/**
 * A project's trust in a CI workflow identity (keyless CI): a GitHub Actions OIDC token whose
 * {@code repository} and {@code ref} claims equal these, and whose {@code environment} claim equals
 * {@code environment} when that is set (null: any environment, or none), may be exchanged for a
 * short-lived key restricted to {@code project}.
 */
public record CiTrust(String id, String project, String provider, String repository, String ref,
                      String environment, Instant createdAt) {
}
