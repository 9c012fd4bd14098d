/**
 * Shared process plumbing: the one way the server starts a child process (harness, image
 * builder, ssh), with an explicit environment, limits, and a kill that takes the whole tree the
 * child started. Feature code says what to run; this package says how it is contained.
 */
package dev.karta.server.process;
