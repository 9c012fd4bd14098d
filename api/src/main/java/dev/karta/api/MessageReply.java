package dev.karta.api;

/**
 * Answer 200 of a message, and the data of the {@code message.completed} SSE event: the whole
 * assistant reply.
 */
public record MessageReply(Message message) {
}
