/**
 * Releases: immutable, numbered snapshots of a project. Activation and rollback move the
 * project's {@code current_release_id} pointer in one transaction with the audit event and log
 * entry; versions are allocated {@code max + 1} under a unique constraint.
 */
package dev.karta.server.releases;
