package dev.karta.server.repos;

import dev.karta.server.Config.ArchiveLimits;
import dev.karta.server.build.BuildFailed;
import java.io.FilterOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Date;
import java.util.List;
import java.util.zip.Deflater;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveOutputStream;
import org.apache.commons.compress.archivers.tar.TarConstants;
import org.apache.commons.compress.compressors.gzip.GzipCompressorOutputStream;
import org.apache.commons.compress.compressors.gzip.GzipParameters;
import org.eclipse.jgit.lib.Constants;
import org.eclipse.jgit.lib.FileMode;
import org.eclipse.jgit.lib.ObjectId;
import org.eclipse.jgit.lib.ObjectLoader;
import org.eclipse.jgit.lib.ObjectReader;
import org.eclipse.jgit.lib.Repository;
import org.eclipse.jgit.revwalk.RevCommit;
import org.eclipse.jgit.revwalk.RevWalk;
import org.eclipse.jgit.treewalk.TreeWalk;

/**
 * Writes one commit's tree as a gzip-compressed tar, the format every source hands the
 * materializer. Members sit under one top folder named after the commit (as in GitHub's tarballs),
 * which the materializer strips, so the release tree is exactly the commit's tree even when that
 * tree itself has a single top folder. Executable bits and symlinks are kept; submodules are not
 * part of the tree and are reported. The archive limits are applied while writing, so a huge
 * commit fails fast instead of filling the disk first.
 */
public final class CommitArchive {
    private static final int BUFFER = 64 * 1024;

    /** What was written: regular files and links, their total size, and the submodule paths left out. */
    public record Summary(int members, long bytes, List<String> submodules) {
    }

    private CommitArchive() {
    }

    public static Summary write(Repository repo, ObjectId commitId, OutputStream sink, ArchiveLimits limits)
            throws IOException {
        String label = commitId.abbreviate(12).name();
        Capped capped = new Capped(sink, limits.maxCompressedBytes(), label);
        GzipParameters gzip = new GzipParameters();
        // A local, short-lived archive: speed matters more than size.
        gzip.setCompressionLevel(Deflater.BEST_SPEED);
        int members = 0;
        long bytes = 0;
        List<String> submodules = new ArrayList<>();
        try (ObjectReader reader = repo.newObjectReader();
             RevWalk walk = new RevWalk(reader);
             TreeWalk tree = new TreeWalk(reader);
             TarArchiveOutputStream tar = new TarArchiveOutputStream(
                     new GzipCompressorOutputStream(capped, gzip), BUFFER, StandardCharsets.UTF_8.name())) {
            tar.setLongFileMode(TarArchiveOutputStream.LONGFILE_POSIX);
            tar.setBigNumberMode(TarArchiveOutputStream.BIGNUMBER_POSIX);
            tar.setAddPaxHeadersForNonAsciiNames(true);
            RevCommit commit = walk.parseCommit(commitId);
            Date time = new Date(commit.getCommitTime() * 1000L);
            String top = commitId.abbreviate(12).name() + "/";
            tree.addTree(commit.getTree());
            tree.setRecursive(true);
            while (tree.next()) {
                FileMode mode = tree.getFileMode(0);
                String path = tree.getPathString();
                if (mode == FileMode.GITLINK) {
                    submodules.add(path);
                    continue;
                }
                if (++members > limits.maxEntries()) {
                    throw new BuildFailed("commit " + label + " has more than " + limits.maxEntries()
                            + " files (limit max_archive_entries)");
                }
                ObjectLoader blob = reader.open(tree.getObjectId(0), Constants.OBJ_BLOB);
                bytes += blob.getSize();
                if (bytes > limits.maxExpandedBytes()) {
                    throw new BuildFailed("commit " + label + " holds more than " + limits.maxExpandedBytes()
                            + " bytes of files (limit max_expanded_bytes)");
                }
                TarArchiveEntry entry;
                if (mode == FileMode.SYMLINK) {
                    entry = new TarArchiveEntry(top + path, TarConstants.LF_SYMLINK);
                    entry.setLinkName(new String(blob.getCachedBytes(), StandardCharsets.UTF_8));
                    entry.setMode(0120777);
                } else {
                    entry = new TarArchiveEntry(top + path);
                    entry.setMode(mode == FileMode.EXECUTABLE_FILE ? 0100755 : 0100644);
                    entry.setSize(blob.getSize());
                }
                entry.setModTime(time);
                tar.putArchiveEntry(entry);
                if (mode != FileMode.SYMLINK) {
                    blob.copyTo(tar);
                }
                tar.closeArchiveEntry();
            }
            if (members == 0) {
                throw new BuildFailed("commit " + label + " has no files to deploy"
                        + (submodules.isEmpty() ? "" : " (only submodules, which are not deployed)"));
            }
            tar.finish();
        }
        return new Summary(members, bytes, List.copyOf(submodules));
    }

    /** Fails the export once more than {@code max} compressed bytes have been written. */
    private static final class Capped extends FilterOutputStream {
        private final long max;
        private final String label;
        private long count;

        Capped(OutputStream out, long max, String label) {
            super(out);
            this.max = max;
            this.label = label;
        }

        @Override
        public void write(int b) throws IOException {
            count(1);
            out.write(b);
        }

        @Override
        public void write(byte[] b, int off, int len) throws IOException {
            count(len);
            out.write(b, off, len);
        }

        private void count(long n) {
            count += n;
            if (count > max) {
                throw new BuildFailed("commit " + label + " is larger than " + max
                        + " bytes compressed (limit max_archive_bytes)");
            }
        }

        @Override
        public void close() throws IOException {
            // The sink belongs to the caller.
            flush();
        }
    }
}
