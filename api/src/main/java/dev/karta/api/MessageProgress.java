package dev.karta.api;

/**
 * Data of a {@code message.progress} SSE event: what the harness of turn {@code messageId} reports
 * while no reply text comes (for example a retry of its model API), for a person to read; not
 * part of the reply.
 */
public record MessageProgress(String messageId, String text) {
}
