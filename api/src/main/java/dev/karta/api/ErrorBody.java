package dev.karta.api;

/** Every failure answer: a stable machine code and one human sentence. */
public record ErrorBody(String error, String message) {
}
