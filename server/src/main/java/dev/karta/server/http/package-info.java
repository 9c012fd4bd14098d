/**
 * The HTTP edge: server bootstrap, request ids, metrics, the caller ({@code Principal},
 * {@code Scope}, {@code Actor}) and the one key check, and the one place where errors become
 * {@code {"error","message"}} answers. Features register their own paths by implementing
 * {@link dev.karta.server.http.Routes}; this package imports no feature.
 */
package dev.karta.server.http;
