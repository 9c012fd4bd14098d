package dev.karta.api;

/** Data of a {@code message.delta} SSE event: the next piece of the reply {@code messageId}. */
public record MessageDelta(String messageId, String text) {
}
