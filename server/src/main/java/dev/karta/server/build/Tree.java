package dev.karta.server.build;

import java.io.IOException;
import java.nio.file.Path;
import java.util.Optional;

/**
 * A materialized release tree: its folder, named by {@code contentDigest} ({@code sha256:…} over
 * every path, type, executable bit and content), and its file count and size. A build reads its
 * entries by relative path, never through a link ({@link #readFile}, {@link #hasFile},
 * {@link #hasFolder}).
 */
public record Tree(Path dir, String contentDigest, int files, long bytes) {
    /** The UTF-8 text of the regular file at {@code relativePath}, or empty when there is none (a link is none). */
    public Optional<String> readFile(String relativePath) throws IOException {
        return Materializer.readRegularFile(dir, relativePath);
    }

    /** Whether a regular file (not a link) is at {@code relativePath}. */
    public boolean hasFile(String relativePath) {
        return Materializer.isRegularFile(dir, relativePath);
    }

    /** Whether a folder (not a link) is at {@code relativePath}. */
    public boolean hasFolder(String relativePath) {
        return Materializer.isFolder(dir, relativePath);
    }
}
