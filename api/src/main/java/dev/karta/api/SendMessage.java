package dev.karta.api;

/**
 * Body of {@code POST /v1/projects/{p}/sessions/{id}/messages}. With {@code stream} true the
 * answer is an SSE stream of {@code message.delta} events, then {@code message.completed}.
 */
public record SendMessage(String text, Boolean stream) {
}
