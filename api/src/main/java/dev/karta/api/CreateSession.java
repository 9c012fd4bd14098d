package dev.karta.api;

import java.util.Map;

/** Optional body of {@code POST /v1/projects/{p}/sessions}: at most 50 string metadata entries. */
public record CreateSession(Map<String, String> metadata) {
}
