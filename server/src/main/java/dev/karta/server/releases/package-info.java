/**
 * Releases: immutable, numbered snapshots of a project. Creating a release and pointing the
 * project's {@code current_release_id} at one are separate steps; activation (both, after a
 * build) and rollback move the pointer in one transaction with the audit event and log entry.
 * Versions are allocated {@code max + 1} under a unique constraint.
 */
package dev.karta.server.releases;
