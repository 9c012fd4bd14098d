package dev.karta.api;

import java.util.List;

public record WebhookEndpointList(List<WebhookEndpoint> webhookEndpoints) {
}
