package dev.karta.api;

import java.util.List;

/** Body of {@code POST /api_keys}: one scope level, given as a one-element list. */
public record CreateApiKey(String name, List<String> scopes) {
}
