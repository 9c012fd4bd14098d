package dev.karta.server.build;

import java.nio.file.Path;

/**
 * A materialized release tree: its folder, named by {@code contentDigest} ({@code sha256:…} over
 * every path, type, executable bit and content), and its file count and size.
 */
public record Tree(Path dir, String contentDigest, int files, long bytes) {
}
