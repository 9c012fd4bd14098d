package dev.karta.api;

/**
 * Answer of {@code GET /agent_projects/{p}/usage}: what a project did in one calendar month (UTC)
 * {@code period} ("2026-11"), and the bytes its release trees and uploaded archives take now.
 */
public record Usage(
        String period,
        long deploys,
        long buildsSucceeded,
        long buildsFailed,
        double buildSeconds,
        long releases,
        long sessions,
        long messages,
        long storedBytes) {
}
