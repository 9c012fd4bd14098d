package dev.karta.api;

import java.util.List;

/** Body of {@code POST /webhook_endpoints}; {@code description} may be null. */
public record CreateWebhookEndpoint(String url, List<String> events, String description) {
}
