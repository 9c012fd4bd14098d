package dev.karta.api;

import java.util.List;

public record ApiKeyList(List<ApiKey> apiKeys) {
}
