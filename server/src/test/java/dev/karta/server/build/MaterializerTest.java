package dev.karta.server.build;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.karta.server.Config.ArchiveLimits;
import dev.karta.server.testkit.TarBuilder;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermission;
import java.util.Arrays;
import java.util.stream.Stream;
import org.apache.commons.compress.archivers.tar.TarConstants;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class MaterializerTest {
    @TempDir
    Path trees;

    private final Materializer materializer = new Materializer(ArchiveLimits.DEFAULTS);

    private Tree materialize(byte[] archive) throws IOException {
        return materializer.materialize(new ByteArrayInputStream(archive), trees);
    }

    private Tree materialize(Materializer with, byte[] archive) throws IOException {
        return with.materialize(new ByteArrayInputStream(archive), trees);
    }

    private void assertRejected(byte[] archive, String rule) {
        assertRejected(materializer, archive, rule);
    }

    private void assertRejected(Materializer with, byte[] archive, String rule) {
        assertThatThrownBy(() -> materialize(with, archive))
                .isInstanceOf(ArchiveRejected.class)
                .satisfies(e -> assertThat(((ArchiveRejected) e).rule()).isEqualTo(rule));
        assertThat(leftovers()).as("a rejected archive leaves nothing behind").isEmpty();
    }

    /** Everything under the tree store but empty staging folders. */
    private String[] leftovers() {
        try (Stream<Path> walk = Files.walk(trees)) {
            return walk.filter(p -> !p.equals(trees))
                    .filter(p -> !p.equals(trees.resolve(".staging")))
                    .map(p -> trees.relativize(p).toString())
                    .toArray(String[]::new);
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }

    @Test
    void extracts_files_and_strips_the_single_top_folder() throws IOException {
        Tree tree = materialize(TarBuilder.app("hello"));

        assertThat(tree.dir()).isEqualTo(trees.resolve(tree.contentDigest().substring(7)));
        assertThat(tree.dir().resolve("CLAUDE.md")).hasContent("# hello");
        assertThat(tree.dir().resolve(".claude/settings.json")).exists();
        assertThat(tree.files()).isEqualTo(2);
        assertThat(tree.contentDigest()).matches("sha256:[0-9a-f]{64}");
    }

    @Test
    void keeps_a_single_top_folder_whose_name_starts_with_a_dot() throws IOException {
        Tree tree = materialize(new TarBuilder().file(".claude/settings.json", "{}").build());

        assertThat(tree.dir().resolve(".claude/settings.json")).exists();
    }

    @Test
    void does_not_strip_when_files_sit_at_the_top() throws IOException {
        Tree tree = materialize(new TarBuilder().file("CLAUDE.md", "x").file("docs/a.md", "a").build());

        assertThat(tree.dir().resolve("CLAUDE.md")).exists();
        assertThat(tree.dir().resolve("docs/a.md")).exists();
    }

    @Test
    void same_content_twice_is_a_noop() throws IOException {
        Tree first = materialize(TarBuilder.app("same"));
        var before = Files.getLastModifiedTime(first.dir());
        Tree second = materialize(new TarBuilder().file("other-top/CLAUDE.md", "# same\n")
                .file("other-top/.claude/settings.json", "{}\n").build());

        assertThat(second.contentDigest()).isEqualTo(first.contentDigest());
        assertThat(second.dir()).isEqualTo(first.dir());
        assertThat(Files.getLastModifiedTime(first.dir())).isEqualTo(before);
        assertThat(leftovers()).containsExactlyInAnyOrder(first.dir().getFileName().toString(),
                first.dir().getFileName() + "/CLAUDE.md", first.dir().getFileName() + "/.claude",
                first.dir().getFileName() + "/.claude/settings.json");
    }

    @Test
    void different_content_gives_a_different_digest() throws IOException {
        assertThat(materialize(TarBuilder.app("a")).contentDigest())
                .isNotEqualTo(materialize(TarBuilder.app("b")).contentDigest());
    }

    @Test
    void keeps_the_executable_bit_and_nothing_more() throws IOException {
        Tree tree = materialize(new TarBuilder().file("run.sh", "#!/bin/sh\n", 04755).file("a.txt", "a", 0666).build());

        assertThat(Files.getPosixFilePermissions(tree.dir().resolve("run.sh")))
                .contains(PosixFilePermission.OWNER_EXECUTE)
                .doesNotContain(PosixFilePermission.OTHERS_WRITE);
        assertThat(Files.getPosixFilePermissions(tree.dir().resolve("a.txt")))
                .doesNotContain(PosixFilePermission.OWNER_EXECUTE, PosixFilePermission.OTHERS_WRITE);
    }

    @Test
    void accepts_a_symlink_that_stays_inside_the_tree() throws IOException {
        Tree tree = materialize(new TarBuilder().file("docs/a.md", "a").symlink("docs/b.md", "a.md")
                .symlink("top.md", "docs/a.md").build());

        assertThat(Files.isSymbolicLink(tree.dir().resolve("docs/b.md"))).isTrue();
        assertThat(tree.dir().resolve("top.md")).hasContent("a");
    }

    @Test
    void copies_a_hardlink_to_an_earlier_file() throws IOException {
        Tree tree = materialize(new TarBuilder().file("a.md", "same").hardlink("b.md", "a.md").build());

        assertThat(tree.dir().resolve("b.md")).hasContent("same");
    }

    @Test
    void many_files_in_many_folders_are_all_written_whole_and_hashed() throws IOException {
        // Small files go to writer threads while the archive is read on: every one must land, whole.
        TarBuilder tar = new TarBuilder();
        for (int i = 0; i < 600; i++) {
            tar.file("app/src/d" + (i % 12) + "/f" + i + ".txt", "file " + i + "\n".repeat(i % 50));
        }
        String big = "b".repeat(300 * 1024); // above the size written on the reading thread
        tar.file("app/big.txt", big);
        Tree tree = materialize(tar.build());

        assertThat(tree.files()).isEqualTo(601);
        for (int i = 0; i < 600; i++) {
            assertThat(Files.readString(tree.dir().resolve("src/d" + (i % 12) + "/f" + i + ".txt")))
                    .isEqualTo("file " + i + "\n".repeat(i % 50));
        }
        assertThat(Files.readString(tree.dir().resolve("big.txt"))).isEqualTo(big);
        // The same files in another order of members make the same tree.
        TarBuilder reversed = new TarBuilder().file("top/big.txt", big);
        for (int i = 599; i >= 0; i--) {
            reversed.file("top/src/d" + (i % 12) + "/f" + i + ".txt", "file " + i + "\n".repeat(i % 50));
        }
        assertThat(materialize(reversed.build()).contentDigest()).isEqualTo(tree.contentDigest());
    }

    @Test
    void a_later_member_replaces_a_file_just_written_and_a_hardlink_copies_it_whole() throws IOException {
        TarBuilder tar = new TarBuilder();
        for (int i = 0; i < 200; i++) {
            tar.file("d" + (i % 5) + "/f" + i, "first " + i);
        }
        for (int i = 0; i < 200; i++) {
            tar.file("d" + (i % 5) + "/f" + i, "second " + i).hardlink("links/l" + i, "d" + (i % 5) + "/f" + i);
        }
        Tree tree = materialize(tar.build());

        for (int i = 0; i < 200; i++) {
            assertThat(Files.readString(tree.dir().resolve("d" + (i % 5) + "/f" + i))).isEqualTo("second " + i);
            assertThat(Files.readString(tree.dir().resolve("links/l" + i))).isEqualTo("second " + i);
        }
    }

    @Test
    void a_rejection_after_many_files_leaves_nothing_behind() {
        TarBuilder tar = new TarBuilder();
        for (int i = 0; i < 500; i++) {
            tar.file("d" + (i % 7) + "/f" + i, "x".repeat(1000));
        }
        assertRejected(tar.file("evil", "x").symlink("out", "../../etc").build(), "link_escapes_tree");
        Materializer small = new Materializer(new ArchiveLimits(ArchiveLimits.DEFAULTS.maxCompressedBytes(), 400_000,
                ArchiveLimits.DEFAULTS.maxEntries(), ArchiveLimits.DEFAULTS.maxPathBytes(),
                ArchiveLimits.DEFAULTS.maxPathDepth()));
        TarBuilder many = new TarBuilder();
        for (int i = 0; i < 500; i++) {
            many.file("d" + (i % 7) + "/f" + i, "x".repeat(1000));
        }
        assertRejected(small, many.build(), "expanded_too_large");
    }

    @Test
    void upload_rejects_absolute_path() {
        assertRejected(new TarBuilder().file("/etc/cron.d/evil", "x").build(), "absolute_path");
    }

    @Test
    void upload_rejects_entry_escaping_with_dotdot() {
        assertRejected(new TarBuilder().file("app/../../evil.sh", "x").build(), "path_traversal");
    }

    @Test
    void upload_rejects_symlink_with_absolute_target() {
        assertRejected(new TarBuilder().file("a", "a").symlink("passwd", "/etc/passwd").build(), "link_escapes_tree");
    }

    @Test
    void upload_rejects_symlink_climbing_out_of_the_tree() {
        assertRejected(new TarBuilder().file("a", "a").symlink("docs/up", "../../outside").build(), "link_escapes_tree");
    }

    @Test
    void upload_rejects_symlink_escaping_once_the_top_folder_is_stripped() {
        // Inside "app/" as archived, but "x -> .." names the tree store once "app/" is stripped.
        assertRejected(new TarBuilder().dir("app").file("app/CLAUDE.md", "a").symlink("app/x", "..").build(),
                "link_escapes_tree");
        assertRejected(new TarBuilder().file("app/CLAUDE.md", "a").symlink("app/a/b", "../../..").build(),
                "link_escapes_tree");
        assertRejected(new TarBuilder().file("app/CLAUDE.md", "a").symlink("app/a/b", "../../other-tree/CLAUDE.md")
                .build(), "link_escapes_tree");
    }

    @Test
    void upload_rejects_symlink_escaping_the_stripped_tree_names_the_rule_in_its_message() {
        assertThatThrownBy(() -> materialize(new TarBuilder().file("app/CLAUDE.md", "a").symlink("app/x", "..")
                .build()))
                .isInstanceOf(ArchiveRejected.class)
                .hasMessageContaining("symlink 'app/x' points outside the tree ('..')")
                .hasMessageContaining("top folder 'app/'");
    }

    @Test
    void upload_rejects_absolute_symlink_under_the_top_folder() {
        assertRejected(new TarBuilder().file("app/CLAUDE.md", "a").symlink("app/passwd", "/etc/passwd").build(),
                "link_escapes_tree");
    }

    @Test
    void upload_rejects_a_chain_of_links_that_leaves_the_tree() {
        // Each link alone stays inside when read as text; followed one after the other they climb out:
        // sub/d is the tree root, so sub/l = sub/d/../x is the folder above the tree.
        assertRejected(new TarBuilder().file("CLAUDE.md", "a").symlink("sub/d", "..").symlink("sub/l", "d/../x")
                .build(), "link_escapes_tree");
        assertRejected(new TarBuilder().file("app/CLAUDE.md", "a").symlink("app/sub/d", "..")
                .symlink("app/sub/l", "d/../x").build(), "link_escapes_tree");
        assertRejected(new TarBuilder().file("CLAUDE.md", "a").symlink("a/up", "..").symlink("b/c/up2", "../../a/up")
                .symlink("b/c/out", "up2/../..").build(), "link_escapes_tree");
    }

    @Test
    void upload_rejects_a_loop_of_links() {
        assertRejected(new TarBuilder().file("CLAUDE.md", "a").symlink("a", "b").symlink("b", "a").symlink("c", "a/x")
                .build(), "link_escapes_tree");
    }

    @Test
    void accepts_links_to_the_root_and_chains_of_links_inside_the_stripped_tree() throws IOException {
        Tree tree = materialize(new TarBuilder().file("app/CLAUDE.md", "hi").symlink("app/docs/root", "..")
                .symlink("app/docs/claude", "root/CLAUDE.md").symlink("app/here", ".").build());

        assertThat(tree.dir().resolve("docs/claude")).hasContent("hi");
        assertThat(tree.dir().resolve("docs/root").toRealPath()).isEqualTo(tree.dir().toRealPath());
    }

    @Test
    void upload_rejects_hardlink_leaving_the_tree() {
        assertRejected(new TarBuilder().file("a", "a").hardlink("b", "../../etc/passwd").build(), "path_traversal");
    }

    @Test
    void upload_rejects_hardlink_to_a_missing_file() {
        assertRejected(new TarBuilder().file("a", "a").hardlink("b", "nowhere").build(), "hardlink_target_missing");
    }

    @Test
    void upload_rejects_entry_written_through_a_symlink() {
        assertRejected(new TarBuilder().dir("real").symlink("link", "real").file("link/x", "x").build(),
                "entry_through_symlink");
    }

    @Test
    void upload_rejects_fifo_entries() {
        assertRejected(new TarBuilder().file("a", "a").special("pipe", TarConstants.LF_FIFO).build(), "special_entry");
    }

    @Test
    void upload_rejects_device_entries() {
        assertRejected(new TarBuilder().file("a", "a").special("dev", TarConstants.LF_CHR).build(), "special_entry");
        assertRejected(new TarBuilder().file("a", "a").special("blk", TarConstants.LF_BLK).build(), "special_entry");
    }

    @Test
    void upload_rejects_more_members_than_the_limit() {
        Materializer small = new Materializer(new ArchiveLimits(1 << 20, 1 << 20, 3, 1024, 32));
        assertRejected(small, new TarBuilder().file("a", "").file("b", "").file("c", "").file("d", "").build(),
                "too_many_entries");
    }

    @Test
    void upload_rejects_archive_over_the_compressed_limit() {
        Materializer small = new Materializer(new ArchiveLimits(200, 1 << 20, 100, 1024, 32));
        byte[] random = new byte[4000];
        new java.util.Random(1).nextBytes(random);
        assertRejected(small, new TarBuilder().file("noise", new String(random, java.nio.charset.StandardCharsets.ISO_8859_1))
                .build(), "archive_too_large");
    }

    @Test
    void upload_rejects_archive_expanding_over_the_limit() {
        Materializer small = new Materializer(new ArchiveLimits(1 << 20, 10_000, 100, 1024, 32));
        char[] zeros = new char[20_000];
        Arrays.fill(zeros, '0');
        assertRejected(small, new TarBuilder().file("bomb", new String(zeros)).build(), "expanded_too_large");
    }

    @Test
    void upload_rejects_paths_longer_than_the_limit() {
        assertRejected(new TarBuilder().file("a/" + "x".repeat(1100), "x").build(), "path_too_long");
    }

    @Test
    void upload_rejects_paths_deeper_than_the_limit() {
        assertRejected(new TarBuilder().file("a/".repeat(33) + "f", "x").build(), "path_too_deep");
    }

    @Test
    void upload_rejects_data_that_is_not_gzip() {
        assertRejected("just some text, not an archive".getBytes(), "not_gzip");
    }

    @Test
    void upload_rejects_a_truncated_archive() {
        byte[] full = new TarBuilder().file("big", "y".repeat(50_000)).build();
        assertRejected(Arrays.copyOf(full, full.length / 2), "corrupt_archive");
    }

    @Test
    void upload_rejects_an_archive_without_files() {
        assertRejected(new TarBuilder().dir("empty").build(), "empty_archive");
    }

    @Test
    void upload_rejects_a_name_that_is_both_folder_and_file() {
        assertRejected(new TarBuilder().file("x/a", "a").file("x", "x").build(), "conflicting_entry");
    }

    @Test
    void a_staging_folder_left_by_a_crash_is_swept() throws IOException {
        Files.createDirectories(trees.resolve(".staging/stg_crashed/half"));
        Files.writeString(trees.resolve(".staging/stg_crashed/half/file"), "partial");

        Materializer.sweepStaging(trees);

        assertThat(trees.resolve(".staging")).doesNotExist();
    }
}
