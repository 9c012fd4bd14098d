package dev.karta.api;

import java.util.List;

public record WebhookDeliveryList(List<WebhookDelivery> deliveries) {
}
