package dev.karta.api;

/** Answer to a key creation: the only time the secret is ever shown. */
public record CreatedApiKey(ApiKey apiKey, String secret) {
}
