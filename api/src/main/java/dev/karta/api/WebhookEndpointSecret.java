package dev.karta.api;

/**
 * Answer to creating an endpoint or rotating its secret: the only time the secret is shown.
 * {@code secret} is {@code whsec_} and the base64 of 32 random bytes (the Standard Webhooks form).
 */
public record WebhookEndpointSecret(WebhookEndpoint webhookEndpoint, String secret) {
}
