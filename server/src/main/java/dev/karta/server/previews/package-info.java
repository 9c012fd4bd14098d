/**
 * Preview releases per pull request (docs/previews.md): a small release line per project and
 * preview name ({@code pr-42}: {@code pr-42.1}, {@code pr-42.2}) built through the production build
 * queue but never moving the project's pointer nor taking production version numbers; their
 * sessions, expiry (closed, TTL, cap), promotion to production, and GitHub commit statuses.
 */
package dev.karta.server.previews;
