package dev.karta.api;

import java.util.List;

/** Body of {@code PATCH /webhook_endpoints/{id}}: each field left null stays as it is. */
public record UpdateWebhookEndpoint(String url, List<String> events, Boolean enabled, String description) {
}
