package dev.karta.server.build;

import java.io.IOException;
import java.nio.file.FileVisitResult;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.SimpleFileVisitor;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.Optional;
import java.util.SortedMap;
import java.util.TreeMap;

/**
 * A materialized release tree: its folder, named by {@code contentDigest} ({@code sha256:…} over
 * every path, type, executable bit and content), and its file count and size. A build reads its
 * entries by relative path, never through a link ({@link #readFile}, {@link #hasFile},
 * {@link #hasFolder}); a diff lists and compares its entries ({@link #entries}, {@link #sameContent}).
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

    /** A regular file (its size and executable bit) or a link (the length of its target), as a diff sees it. */
    public record Entry(boolean link, boolean executable, long size) {
    }

    /**
     * Every regular file and link of the tree by relative path ({@code /}-separated), sorted;
     * folders are not listed and links are not followed.
     */
    public SortedMap<String, Entry> entries() throws IOException {
        SortedMap<String, Entry> entries = new TreeMap<>();
        Files.walkFileTree(dir, new SimpleFileVisitor<>() {
            @Override
            public FileVisitResult visitFile(Path file, BasicFileAttributes attrs) throws IOException {
                String path = dir.relativize(file).toString().replace(file.getFileSystem().getSeparator(), "/");
                if (attrs.isSymbolicLink()) {
                    entries.put(path, new Entry(true, false, Files.readSymbolicLink(file).toString().length()));
                } else if (attrs.isRegularFile()) {
                    entries.put(path, new Entry(false, Files.isExecutable(file), attrs.size()));
                }
                return FileVisitResult.CONTINUE;
            }
        });
        return entries;
    }

    /**
     * Whether the entry at {@code relativePath}, listed by {@link #entries} in both trees with the
     * same kind and size, has the same content in {@code other}: the same bytes, or the same link target.
     */
    public boolean sameContent(Tree other, String relativePath) throws IOException {
        Path mine = dir.resolve(relativePath);
        Path theirs = other.dir.resolve(relativePath);
        if (Files.isSymbolicLink(mine)) {
            return Files.isSymbolicLink(theirs) && Files.readSymbolicLink(mine).equals(Files.readSymbolicLink(theirs));
        }
        return Files.isRegularFile(theirs, LinkOption.NOFOLLOW_LINKS) && Files.mismatch(mine, theirs) == -1;
    }
}
