package dev.karta.server.datadir;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.karta.server.Config;
import dev.karta.server.build.ReleaseFiles;
import dev.karta.server.build.Tree;
import dev.karta.server.repos.RepoStore;
import dev.karta.server.testkit.GitObjects;
import dev.karta.server.testkit.TarBuilder;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import org.eclipse.jgit.internal.storage.file.ObjectDirectory;
import org.eclipse.jgit.internal.storage.file.PackInserter;
import org.eclipse.jgit.lib.ConfigConstants;
import org.eclipse.jgit.lib.Constants;
import org.eclipse.jgit.lib.ObjectId;
import org.eclipse.jgit.lib.RefUpdate;
import org.eclipse.jgit.lib.Repository;
import org.eclipse.jgit.lib.StoredConfig;
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

    @Test
    void a_repository_with_too_many_packs_is_compacted_in_the_background_and_loses_no_object() throws Exception {
        RepoStore repos = storage().repos();
        List<ObjectId> history = new ArrayList<>();
        ObjectId unreachable;
        try (Repository repo = repos.open("prj_1", RepoStore.PUSHED, "main")) {
            for (int i = 0; i <= DataDirCompaction.COMPACT_ABOVE_PACKS; i++) {
                history.add(commitInPackOfItsOwn(repo, history.isEmpty() ? null : history.get(i - 1), "v" + i));
            }
            RefUpdate main = repo.updateRef(Constants.R_HEADS + "main");
            main.setNewObjectId(history.get(history.size() - 1));
            assertThat(main.update()).isEqualTo(RefUpdate.Result.NEW);
            unreachable = commitInPackOfItsOwn(repo, null, "no ref reaches this");
            assertThat(packs(repo)).isEqualTo(DataDirCompaction.COMPACT_ABOVE_PACKS + 2);

            repos.added(repo);
        }

        try (Repository repo = repos.open("prj_1", RepoStore.PUSHED, "main")) {
            await().atMost(Duration.ofSeconds(20)).untilAsserted(() -> assertThat(packs(repo)).isEqualTo(1));
            for (ObjectId commit : history) {
                assertThat(repo.getObjectDatabase().has(commit)).as("reachable %s", commit.name()).isTrue();
            }
            assertThat(repo.getObjectDatabase().has(unreachable)).as("kept loose until JGit's prune period").isTrue();
        }
    }

    @Test
    void a_repository_never_repacks_in_the_push_itself_even_one_made_before_compaction_existed() throws IOException {
        RepoStore repos = storage().repos();
        try (Repository repo = repos.open("prj_1", RepoStore.PUSHED, "main")) {
            assertThat(autogc(repo)).isFalse();
            StoredConfig config = repo.getConfig();
            config.unset(ConfigConstants.CONFIG_RECEIVE_SECTION, null, ConfigConstants.CONFIG_KEY_AUTOGC);
            config.save();
        }
        try (Repository repo = repos.open("prj_1", RepoStore.PUSHED, "main")) {
            assertThat(autogc(repo)).isFalse();
        }
    }

    private static boolean autogc(Repository repo) {
        return repo.getConfig().getBoolean(ConfigConstants.CONFIG_RECEIVE_SECTION, ConfigConstants.CONFIG_KEY_AUTOGC,
                true);
    }

    /** A commit of one file, written as a pack of its own, as a push stores it. */
    private static ObjectId commitInPackOfItsOwn(Repository repo, ObjectId parent, String text) throws IOException {
        try (PackInserter inserter = ((ObjectDirectory) repo.getObjectDatabase()).newPackInserter()) {
            return GitObjects.commit(inserter, parent, "CLAUDE.md", Constants.encode(text), text);
        }
    }

    private static int packs(Repository repo) {
        return ((ObjectDirectory) repo.getObjectDatabase()).getPacks().size();
    }
}
