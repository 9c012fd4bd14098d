package dev.karta.api;

/** One message of a session; answers have role "assistant". */
public record Message(String id, String role, String text) {
}
