/**
 * Server-sent events for every stream the server answers (project logs, build logs, session
 * turns): the response headers, the frame format, {@code Last-Event-ID}, and
 * {@link dev.karta.server.http.sse.SseStream}, a non-blocking writer with a per-client byte budget
 * so one slow client never holds a thread or slows the others.
 */
package dev.karta.server.http.sse;
