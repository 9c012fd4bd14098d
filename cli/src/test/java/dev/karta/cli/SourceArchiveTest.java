package dev.karta.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.LinkedHashMap;
import java.util.Map;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveInputStream;
import org.apache.commons.compress.compressors.gzip.GzipCompressorInputStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SourceArchiveTest {
    @TempDir
    Path app;

    private void write(String path, String content) throws IOException {
        Path file = app.resolve(path);
        Files.createDirectories(file.getParent());
        Files.writeString(file, content);
    }

    private Map<String, TarArchiveEntry> archive(String top) throws IOException {
        return entries(bytes(top));
    }

    private byte[] bytes(String top) throws IOException {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        SourceArchive.write(SourceArchive.scan(app).entries(), top, out);
        return out.toByteArray();
    }

    private static Map<String, TarArchiveEntry> entries(byte[] tarGz) throws IOException {
        Map<String, TarArchiveEntry> entries = new LinkedHashMap<>();
        try (TarArchiveInputStream tar = new TarArchiveInputStream(
                new GzipCompressorInputStream(new ByteArrayInputStream(tarGz)))) {
            for (TarArchiveEntry entry; (entry = tar.getNextEntry()) != null; ) {
                entries.put(entry.getName(), entry);
            }
        }
        return entries;
    }

    @Test
    void archives_files_under_one_top_folder_in_name_order() throws IOException {
        write("CLAUDE.md", "# app");
        write(".claude/settings.json", "{}");
        write("b/z.txt", "z");
        write("b/a.txt", "a");

        assertThat(archive("shop").keySet())
                .containsExactly("shop/.claude/settings.json", "shop/CLAUDE.md", "shop/b/a.txt", "shop/b/z.txt");
    }

    @Test
    void file_content_and_size_are_kept() throws IOException {
        write("CLAUDE.md", "# hello");
        byte[] tarGz = bytes("app");

        try (TarArchiveInputStream tar = new TarArchiveInputStream(
                new GzipCompressorInputStream(new ByteArrayInputStream(tarGz)))) {
            TarArchiveEntry entry = tar.getNextEntry();
            assertThat(entry.getSize()).isEqualTo(7);
            assertThat(new String(tar.readAllBytes(), StandardCharsets.UTF_8)).isEqualTo("# hello");
        }
    }

    @Test
    void the_git_folder_is_always_left_out() throws IOException {
        write(".git/HEAD", "ref: refs/heads/main");
        write(".git/objects/ab/cdef", "x");
        write("sub/.git", "gitdir: ../.git/modules/sub");
        write("CLAUDE.md", "x");

        assertThat(archive("app").keySet()).containsExactly("app/CLAUDE.md");
    }

    @Test
    void gitignored_files_and_folders_are_left_out_and_gitignore_itself_is_kept() throws IOException {
        write(".gitignore", "*.log\n!keep.log\nnode_modules/\n/secret.env\n");
        write("debug.log", "x");
        write("keep.log", "x");
        write("node_modules/left-pad/index.js", "x");
        write("secret.env", "x");
        write("config/secret.env", "x");
        write("CLAUDE.md", "x");

        assertThat(archive("app").keySet()).containsExactly(
                "app/.gitignore", "app/CLAUDE.md", "app/config/secret.env", "app/keep.log");
    }

    @Test
    void nested_gitignore_files_apply_to_their_folder() throws IOException {
        write("CLAUDE.md", "x");
        write("tools/.gitignore", "*.tmp\n");
        write("tools/a.tmp", "x");
        write("tools/b.sh", "x");
        write("c.tmp", "x");

        assertThat(archive("app").keySet())
                .containsExactly("app/CLAUDE.md", "app/c.tmp", "app/tools/.gitignore", "app/tools/b.sh");
    }

    @Test
    void a_file_inside_an_ignored_folder_cannot_be_reincluded() throws IOException {
        write(".gitignore", "build/\n!build/keep.txt\n");
        write("build/keep.txt", "x");
        write("CLAUDE.md", "x");

        assertThat(archive("app").keySet()).containsExactly("app/.gitignore", "app/CLAUDE.md");
    }

    @Test
    void the_executable_bit_is_kept() throws IOException {
        write("run.sh", "#!/bin/sh");
        write("data.txt", "x");
        Files.setPosixFilePermissions(app.resolve("run.sh"), PosixFilePermissions.fromString("rwxr-x---"));
        Files.setPosixFilePermissions(app.resolve("data.txt"), PosixFilePermissions.fromString("rw-------"));

        Map<String, TarArchiveEntry> entries = archive("app");

        assertThat(entries.get("app/run.sh").getMode()).isEqualTo(0100755);
        assertThat(entries.get("app/data.txt").getMode()).isEqualTo(0100644);
    }

    @Test
    void symlinks_are_archived_as_links() throws IOException {
        write("docs/guide.md", "x");
        Files.createSymbolicLink(app.resolve("GUIDE.md"), Path.of("docs/guide.md"));
        Files.createSymbolicLink(app.resolve("docs-link"), Path.of("docs"));

        Map<String, TarArchiveEntry> entries = archive("app");

        assertThat(entries.get("app/GUIDE.md").isSymbolicLink()).isTrue();
        assertThat(entries.get("app/GUIDE.md").getLinkName()).isEqualTo("docs/guide.md");
        assertThat(entries.get("app/docs-link").isSymbolicLink()).isTrue();
        assertThat(entries).doesNotContainKey("app/docs-link/guide.md");
    }

    @Test
    void a_symlink_leaving_the_folder_is_refused() throws IOException {
        write("CLAUDE.md", "x");
        Files.createSymbolicLink(app.resolve("passwd"), Path.of("/etc/passwd"));

        assertThatThrownBy(() -> SourceArchive.scan(app))
                .isInstanceOf(CliError.class)
                .hasMessageContaining("symlink passwd points outside the folder");
    }

    @Test
    void a_symlink_escaping_with_dotdot_is_refused() throws IOException {
        write("sub/x", "x");
        Files.createSymbolicLink(app.resolve("sub/up"), Path.of("../../elsewhere"));

        assertThatThrownBy(() -> SourceArchive.scan(app)).hasMessageContaining("symlink sub/up points outside");
    }

    @Test
    void an_ignored_escaping_symlink_is_fine() throws IOException {
        write(".gitignore", "passwd\n");
        Files.createSymbolicLink(app.resolve("passwd"), Path.of("/etc/passwd"));

        assertThat(archive("app").keySet()).containsExactly("app/.gitignore");
    }

    @Test
    void the_archive_is_deterministic_with_zeroed_times_and_no_owner() throws IOException {
        write("CLAUDE.md", "x");
        write("a/b.txt", "y");
        byte[] first = bytes("app");
        Files.setLastModifiedTime(app.resolve("CLAUDE.md"), FileTime.fromMillis(1_700_000_000_000L));

        byte[] second = bytes("app");

        assertThat(second).isEqualTo(first);
        TarArchiveEntry entry = entries(first).get("app/CLAUDE.md");
        assertThat(entry.getModTime().getTime()).isZero();
        assertThat(entry.getUserName()).isEmpty();
        assertThat(entry.getLongUserId()).isZero();
    }

    @Test
    void long_paths_survive() throws IOException {
        String deep = "d".repeat(60) + "/" + "e".repeat(60) + "/" + "f".repeat(60) + ".txt";
        write(deep, "x");

        assertThat(archive("app").keySet()).containsExactly("app/" + deep);
    }

    @Test
    void scan_counts_bytes_of_regular_files() throws IOException {
        write("a.txt", "12345");
        write("b/c.txt", "123");

        assertThat(SourceArchive.scan(app).bytes()).isEqualTo(8);
    }
}
