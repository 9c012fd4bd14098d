package dev.karta.api;

import java.util.List;

/** Answer of {@code GET /v1/projects/{p}/sessions}, newest first. */
public record SessionList(List<Session> sessions) {
}
