package dev.karta.cli;

import java.io.BufferedOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.nio.file.attribute.FileTime;
import java.nio.file.attribute.PosixFileAttributes;
import java.nio.file.attribute.PosixFilePermission;
import java.util.ArrayList;
import java.util.List;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveOutputStream;
import org.apache.commons.compress.archivers.tar.TarConstants;
import org.apache.commons.compress.compressors.gzip.GzipCompressorOutputStream;

/**
 * The source tree {@code karta publish} uploads: a folder minus what its {@code .gitignore}
 * files exclude (nested ones too) and minus {@code .git}, as a gzipped tar. Only regular files
 * (mode 644 or 755, by the owner's execute bit) and symbolic links are archived; links that leave
 * the folder are refused here, because the server refuses them. The archive is deterministic:
 * entries in name order under one top-level folder (which the server strips), times zeroed, no
 * owner names, so the same tree always gives the same bytes.
 */
final class SourceArchive {
    private static final int FILE_MODE = 0100644;
    private static final int EXECUTABLE_MODE = 0100755;
    private static final int SYMLINK_MODE = 0120777;

    /** One archived path, relative to the folder, with {@code /} separators. */
    record Entry(String path, Path file, boolean executable, String linkTarget) {
        boolean symlink() {
            return linkTarget != null;
        }
    }

    /** What a scan found: the entries to archive, their total size, and special files left out. */
    record Contents(List<Entry> entries, long bytes, List<String> skipped) {
    }

    private SourceArchive() {
    }

    static Contents scan(Path folder) {
        Path root = folder.toAbsolutePath().normalize();
        List<Entry> entries = new ArrayList<>();
        List<String> skipped = new ArrayList<>();
        long[] bytes = {0};
        try {
            walk(root, root, "", List.of(), entries, skipped, bytes);
        } catch (IOException e) {
            throw CliError.failed("cannot read " + root + ": " + e.getMessage());
        }
        return new Contents(List.copyOf(entries), bytes[0], List.copyOf(skipped));
    }

    private static void walk(Path root, Path dir, String relative, List<GitIgnore> inherited, List<Entry> entries,
                             List<String> skipped, long[] bytes) throws IOException {
        List<GitIgnore> rules = inherited;
        Path ignoreFile = dir.resolve(".gitignore");
        if (Files.isRegularFile(ignoreFile, LinkOption.NOFOLLOW_LINKS)) {
            rules = new ArrayList<>(inherited);
            rules.add(GitIgnore.parse(relative, Files.readAllLines(ignoreFile, StandardCharsets.UTF_8)));
        }
        List<Path> children = new ArrayList<>();
        try (DirectoryStream<Path> listing = Files.newDirectoryStream(dir)) {
            listing.forEach(children::add);
        }
        children.sort((a, b) -> a.getFileName().toString().compareTo(b.getFileName().toString()));
        for (Path child : children) {
            String name = child.getFileName().toString();
            if (name.equals(".git")) {
                continue; // the repository itself, never its content
            }
            String path = relative.isEmpty() ? name : relative + "/" + name;
            BasicFileAttributes attributes = Files.readAttributes(child, BasicFileAttributes.class,
                    LinkOption.NOFOLLOW_LINKS);
            boolean directory = attributes.isDirectory();
            if (GitIgnore.ignored(rules, path, directory)) {
                continue; // an ignored folder is not entered: nothing inside can be re-included (gitignore(5))
            }
            if (directory) {
                walk(root, child, path, rules, entries, skipped, bytes);
            } else if (attributes.isSymbolicLink()) {
                entries.add(new Entry(path, child, false, linkTarget(root, child, path)));
            } else if (attributes.isRegularFile()) {
                entries.add(new Entry(path, child, executable(child), null));
                bytes[0] += attributes.size();
            } else {
                skipped.add(path);
            }
        }
    }

    private static String linkTarget(Path root, Path link, String path) throws IOException {
        Path target = Files.readSymbolicLink(link);
        Path resolved = link.getParent().resolve(target).normalize();
        if (target.isAbsolute() || !resolved.startsWith(root)) {
            throw CliError.failed("symlink " + path + " points outside the folder (to " + target
                    + "), which the server refuses: remove it or list it in .gitignore");
        }
        return target.toString().replace(link.getFileSystem().getSeparator(), "/");
    }

    private static boolean executable(Path file) throws IOException {
        try {
            PosixFileAttributes posix = Files.readAttributes(file, PosixFileAttributes.class, LinkOption.NOFOLLOW_LINKS);
            return posix.permissions().contains(PosixFilePermission.OWNER_EXECUTE);
        } catch (UnsupportedOperationException notPosix) {
            return Files.isExecutable(file);
        }
    }

    /** Writes the entries as a tar.gz under {@code topFolder/}, and closes {@code out}. */
    static void write(List<Entry> entries, String topFolder, OutputStream out) throws IOException {
        try (TarArchiveOutputStream tar = new TarArchiveOutputStream(
                new GzipCompressorOutputStream(new BufferedOutputStream(out, 64 * 1024)), "UTF-8")) {
            tar.setLongFileMode(TarArchiveOutputStream.LONGFILE_POSIX);
            tar.setBigNumberMode(TarArchiveOutputStream.BIGNUMBER_POSIX);
            tar.setAddPaxHeadersForNonAsciiNames(true);
            for (Entry entry : entries) {
                String name = topFolder + "/" + entry.path();
                TarArchiveEntry header;
                if (entry.symlink()) {
                    header = new TarArchiveEntry(name, TarConstants.LF_SYMLINK);
                    header.setLinkName(entry.linkTarget());
                    header.setMode(SYMLINK_MODE);
                } else {
                    header = new TarArchiveEntry(name);
                    header.setSize(Files.size(entry.file()));
                    header.setMode(entry.executable() ? EXECUTABLE_MODE : FILE_MODE);
                }
                header.setModTime(FileTime.fromMillis(0));
                header.setIds(0, 0);
                header.setUserName("");
                header.setGroupName("");
                tar.putArchiveEntry(header);
                if (!entry.symlink()) {
                    Files.copy(entry.file(), tar);
                }
                tar.closeArchiveEntry();
            }
            tar.finish();
        }
    }
}
