/**
 * Each project's log: one ordered stream of build, release, session and system entries, stored
 * in the database (ids give the order of writing, also across restarts), queried by time window,
 * pruned by age and count, and followed live over SSE: one feed per project reads once per
 * wake-up and fans out to every follower, each resuming with {@code Last-Event-ID}.
 */
package dev.karta.server.logs;
