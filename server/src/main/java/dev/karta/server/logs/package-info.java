/**
 * Each project's log: one ordered stream of build, release, session and system entries, stored
 * in the database (ids give the order) and followed live by SSE clients that resume with
 * {@code Last-Event-ID}.
 */
package dev.karta.server.logs;
