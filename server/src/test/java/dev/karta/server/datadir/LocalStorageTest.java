package dev.karta.server.datadir;

import static org.assertj.core.api.Assertions.assertThat;

import dev.karta.server.Config;
import dev.karta.server.build.ReleaseFiles;
import dev.karta.server.build.Tree;
import dev.karta.server.repos.RepoStore;
import dev.karta.server.testkit.TarBuilder;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.Optional;
import org.eclipse.jgit.lib.Constants;
import org.eclipse.jgit.lib.Repository;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The data-dir implementation of the storage seams. */
class LocalStorageTest {
    @TempDir
    Path dataDir;

    private LocalStorage storage() {
        return new LocalStorage(dataDir, Config.ArchiveLimits.DEFAULTS);
    }

    @Test
    void an_archive_received_but_not_kept_leaves_nothing_in_the_store() throws IOException {
        ReleaseFiles files = storage().releaseFiles();
        String digest;
        try (ReleaseFiles.Incoming incoming = files.receive(new ByteArrayInputStream(TarBuilder.app("dropped")),
                1 << 20)) {
            digest = incoming.extract().contentDigest();
            assertThat(files.hasTree(digest)).as("staged, not stored").isFalse();
        }

        assertThat(files.hasTree(digest)).isFalse();
        try (var left = Files.list(dataDir.resolve("artifacts"))) {
            assertThat(left).as("no archive, no temporary copy").isEmpty();
        }
        try (var staged = Files.list(dataDir.resolve("trees").resolve(".staging"))) {
            assertThat(staged).isEmpty();
        }
    }

    @Test
    void a_kept_archive_and_its_tree_are_stored_by_content_and_can_be_removed() throws IOException {
        ReleaseFiles files = storage().releaseFiles();
        byte[] archive = TarBuilder.app("kept");
        Tree tree;
        String artifact;
        try (ReleaseFiles.Incoming incoming = files.receive(new ByteArrayInputStream(archive), 1 << 20)) {
            tree = incoming.extract();
            incoming.keep();
            incoming.keep(); // twice is harmless
            artifact = incoming.artifact();
        }

        assertThat(files.hasArchive(artifact)).isTrue();
        assertThat(files.archiveBytes(artifact)).isEqualTo(archive.length);
        Optional<Tree> checkedOut = files.checkOut(tree.contentDigest());
        assertThat(checkedOut).isPresent();
        assertThat(checkedOut.get().dir()).isDirectory().isEqualTo(tree.dir());
        assertThat(files.treeBytes(tree.contentDigest())).isEqualTo(tree.bytes());
        try (InputStream in = files.openArchive(artifact).orElseThrow()) {
            assertThat(in.readAllBytes()).isEqualTo(archive);
        }

        ReleaseFiles.Removal removal = files.removeTree(tree.contentDigest());
        assertThat(files.hasTree(tree.contentDigest())).as("gone at once").isFalse();
        removal.finish();
        assertThat(files.removeTree(tree.contentDigest())).isNull();
        files.sweepUnreferenced(Instant.now().plusSeconds(1), digest -> false, a -> false);
        assertThat(files.hasArchive(artifact)).isFalse();
    }

    @Test
    void a_repository_is_created_once_measured_and_deleted() throws IOException {
        RepoStore repos = storage().repos();
        assertThat(repos.openExisting("prj_1", RepoStore.PUSHED)).isEmpty();

        try (Repository repo = repos.open("prj_1", RepoStore.PUSHED, "main")) {
            assertThat(repo.getFullBranch()).isEqualTo(Constants.R_HEADS + "main");
        }
        try (Repository cache = repos.open("prj_1", "bound/abc", null)) {
            assertThat(cache.isBare()).isTrue();
        }
        assertThat(repos.size("prj_1")).isPositive();
        assertThat(repos.holds(dataDir.resolve("projects"))).isTrue();
        assertThat(repos.holds(dataDir.resolveSibling("elsewhere"))).isFalse();

        repos.delete("prj_1", "bound/");
        assertThat(repos.openExisting("prj_1", "bound/abc")).isEmpty();
        assertThat(repos.openExisting("prj_1", RepoStore.PUSHED)).isPresent().get().satisfies(Repository::close);
        repos.delete("prj_1", RepoStore.PUSHED);
        assertThat(repos.openExisting("prj_1", RepoStore.PUSHED)).isEmpty();
    }
}
