package dev.karta.api;

/**
 * Answer of promoting a preview: the production release it made ({@code release}) from the
 * preview's release ({@code previewRelease}), and whether it is live ({@code live} is false on a
 * pinned project, {@code message} says so).
 */
public record PreviewPromotion(String project, String preview, String release, String previewRelease,
                               String commitSha, String source, boolean live, String message) {
}
