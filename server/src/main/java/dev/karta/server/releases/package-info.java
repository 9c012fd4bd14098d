/**
 * Releases: immutable, numbered snapshots of a project. Creating a release and pointing the
 * project's {@code current_release_id} at one are separate steps; every pointer move (a build's
 * activation, unless a rollback pinned the project; rollback; explicit activation; unpin) runs in
 * one transaction with its audit event and log entry, through {@code ReleaseStore.point}. Also the
 * diff between two releases. Versions are allocated {@code max + 1} under a unique constraint.
 */
package dev.karta.server.releases;
