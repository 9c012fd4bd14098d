package dev.karta.server.ingest.git;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.karta.server.Config.ArchiveLimits;
import dev.karta.server.build.BuildFailed;
import dev.karta.server.repos.CommitArchive;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveInputStream;
import org.apache.commons.compress.compressors.gzip.GzipCompressorInputStream;
import org.eclipse.jgit.lib.ObjectId;
import org.eclipse.jgit.lib.Repository;
import org.eclipse.jgit.storage.file.FileRepositoryBuilder;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The commit export every git deploy goes through: what lands in the archive, and the limits applied while writing it. */
class CommitArchiveTest {
    @TempDir
    Path dir;
    GitFixture karta;
    Path app;

    @BeforeEach
    void start() throws IOException {
        karta = GitFixture.start(dir);
        app = karta.newApp(dir.resolve("app"));
        GitFixture.write(app.resolve("bin/run.sh"), "#!/bin/sh\n");
        Files.setPosixFilePermissions(app.resolve("bin/run.sh"), PosixFilePermissions.fromString("rwxr-xr-x"));
        Files.createSymbolicLink(app.resolve("docs"), Path.of(".claude"));
        karta.commitAll(app, "exec and link");
    }

    @AfterEach
    void stop() {
        karta.close();
    }

    private Map<String, TarArchiveEntry> export(ArchiveLimits limits) throws IOException {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        try (Repository repo = new FileRepositoryBuilder().setGitDir(app.resolve(".git").toFile()).build()) {
            CommitArchive.write(repo, repo.resolve("HEAD"), out, limits);
        }
        Map<String, TarArchiveEntry> entries = new TreeMap<>();
        try (TarArchiveInputStream tar = new TarArchiveInputStream(new GzipCompressorInputStream(
                new ByteArrayInputStream(out.toByteArray())))) {
            for (TarArchiveEntry e = tar.getNextEntry(); e != null; e = tar.getNextEntry()) {
                entries.put(e.getName(), e);
            }
        }
        return entries;
    }

    @Test
    void members_sit_under_one_commit_folder_with_modes_and_links_kept() throws IOException {
        String top = karta.head(app).substring(0, 12) + "/";

        Map<String, TarArchiveEntry> entries = export(ArchiveLimits.DEFAULTS);

        assertThat(entries).containsOnlyKeys(top + "CLAUDE.md", top + ".claude/settings.json", top + "karta.toml",
                top + "bin/run.sh", top + "docs");
        assertThat(entries.get(top + "bin/run.sh").getMode() & 0777).isEqualTo(0755);
        assertThat(entries.get(top + "CLAUDE.md").getMode() & 0777).isEqualTo(0644);
        assertThat(entries.get(top + "docs").isSymbolicLink()).isTrue();
        assertThat(entries.get(top + "docs").getLinkName()).isEqualTo(".claude");
    }

    @Test
    void export_stops_past_the_member_limit() {
        ArchiveLimits four = new ArchiveLimits(64L << 20, 256L << 20, 4, 1024, 32);

        assertThatThrownBy(() -> export(four)).isInstanceOf(BuildFailed.class)
                .hasMessageEndingWith("has more than 4 files (limit max_archive_entries)");
    }

    @Test
    void export_stops_past_the_expanded_size_limit() {
        ArchiveLimits tiny = new ArchiveLimits(64L << 20, 40, 10_000, 1024, 32);

        assertThatThrownBy(() -> export(tiny)).isInstanceOf(BuildFailed.class)
                .hasMessageEndingWith("holds more than 40 bytes of files (limit max_expanded_bytes)");
    }

    @Test
    void export_stops_past_the_compressed_size_limit() throws IOException {
        byte[] noise = new byte[200_000];
        new Random(7).nextBytes(noise);
        Files.write(app.resolve("noise.bin"), noise);
        karta.commitAll(app, "noise");
        ArchiveLimits small = new ArchiveLimits(100_000, 256L << 20, 10_000, 1024, 32);

        assertThatThrownBy(() -> export(small)).isInstanceOf(BuildFailed.class)
                .hasMessageEndingWith("is larger than 100000 bytes compressed (limit max_archive_bytes)");
    }

    @Test
    void submodules_are_left_out_and_reported() throws IOException {
        String some = ObjectId.zeroId().name().replace('0', 'a');
        karta.git(app, "update-index", "--add", "--cacheinfo", "160000," + some + ",vendor/lib").ok();
        karta.git(app, "commit", "-q", "-m", "submodule").ok();

        try (Repository repo = new FileRepositoryBuilder().setGitDir(app.resolve(".git").toFile()).build()) {
            CommitArchive.Summary summary = CommitArchive.write(repo, repo.resolve("HEAD"), new ByteArrayOutputStream(),
                    ArchiveLimits.DEFAULTS);
            assertThat(summary.submodules()).containsExactly("vendor/lib");
            assertThat(summary.members()).isEqualTo(5);
        }
    }
}
