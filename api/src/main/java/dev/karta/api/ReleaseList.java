package dev.karta.api;

import java.util.List;

/** Answer of {@code GET …/releases}: newest first, and the project's pin (null when not pinned). */
public record ReleaseList(List<Release> releases, Pin pinned) {
}
