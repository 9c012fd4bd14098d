package dev.karta.server.dbstorage;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.karta.server.datadir.LocalStorage;
import dev.karta.server.Config;
import dev.karta.server.store.Database;
import dev.karta.server.store.ProjectLocks;
import dev.karta.server.testkit.GitObjects;
import dev.karta.server.testkit.PostgresDatabase;
import dev.karta.server.testkit.PostgresExtension;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.sql.Connection;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.eclipse.jgit.internal.storage.dfs.DfsObjDatabase;
import org.eclipse.jgit.internal.storage.dfs.DfsOutputStream;
import org.eclipse.jgit.internal.storage.dfs.DfsPackDescription;
import org.eclipse.jgit.internal.storage.dfs.ReadableChannel;
import org.eclipse.jgit.internal.storage.pack.PackExt;
import org.eclipse.jgit.lib.Constants;
import org.eclipse.jgit.lib.ObjectId;
import org.eclipse.jgit.lib.ObjectInserter;
import org.eclipse.jgit.lib.Ref;
import org.eclipse.jgit.lib.RefUpdate;
import org.eclipse.jgit.lib.Repository;
import org.eclipse.jgit.revwalk.RevCommit;
import org.eclipse.jgit.revwalk.RevWalk;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

/**
 * Git repositories in PostgreSQL, through two stores on one database as two replicas would use
 * it: what one writes the other reads, concurrent ref updates never lose one, compaction runs
 * under a lease and keeps every object readable.
 */
@ExtendWith(PostgresExtension.class)
class DatabaseRepoStoreTest {
    private static final int COMPACT_ABOVE = 4;

    @TempDir
    Path dir;

    private Database db;
    private DatabaseRepoStore one;
    private DatabaseRepoStore two;

    @BeforeEach
    void open(PostgresDatabase postgres) {
        db = Database.open(postgres.url());
        one = store("one");
        two = store("two");
    }

    private DatabaseRepoStore store(String name) {
        return store(name, COMPACT_ABOVE);
    }

    private DatabaseRepoStore store(String name, int compactAbove) {
        LocalStorage local = new LocalStorage(dir.resolve(name), Config.builder(dir.resolve(name)).build().archive());
        return new DatabaseRepoStore(db, local.repos(), compactAbove, true);
    }

    @AfterEach
    void close() {
        one.close();
        two.close();
        db.close();
    }

    /** A commit holding one file of {@code bytes} random bytes, on {@code parent} (or none). */
    private static ObjectId commit(Repository repo, ObjectId parent, int bytes, String message) throws IOException {
        byte[] content = new byte[bytes];
        new Random(message.hashCode()).nextBytes(content);
        try (ObjectInserter inserter = repo.newObjectInserter()) {
            return GitObjects.commit(inserter, parent, "file.bin", content, message);
        }
    }

    private static RefUpdate.Result move(Repository repo, String branch, ObjectId from, ObjectId to) throws IOException {
        RefUpdate update = repo.updateRef(Constants.R_HEADS + branch);
        update.setExpectedOldObjectId(from == null ? ObjectId.zeroId() : from);
        update.setNewObjectId(to);
        update.disableRefLog();
        return update.update();
    }

    private static ObjectId head(Repository repo, String branch) throws IOException {
        Ref ref = repo.exactRef(Constants.R_HEADS + branch);
        return ref == null ? null : ref.getObjectId();
    }

    @Test
    void what_one_replica_pushes_the_other_opens_with_head_on_the_deploy_branch() throws IOException {
        ObjectId c1;
        try (Repository repo = one.open("prj_a", "repo", "main")) {
            c1 = commit(repo, null, 600_000, "first"); // bigger than a chunk
            assertThat(move(repo, "main", null, c1)).isEqualTo(RefUpdate.Result.NEW);
        }
        try (Repository repo = two.open("prj_a", "repo", "main")) {
            assertThat(repo.exactRef(Constants.HEAD).getTarget().getName()).isEqualTo("refs/heads/main");
            assertThat(head(repo, "main")).isEqualTo(c1);
            assertThat(repo.open(c1).getType()).isEqualTo(Constants.OBJ_COMMIT);
            try (RevWalk walk = new RevWalk(repo)) {
                RevCommit commit = walk.parseCommit(c1);
                byte[] file = repo.open(walk.parseTree(commit.getTree()).getId()).getBytes();
                assertThat(file).isNotEmpty();
            }
        }
        assertThat(two.openExisting("prj_a", "repo")).isPresent();
        assertThat(two.openExisting("prj_a", "other")).isEmpty();
        assertThat(one.size("prj_a")).isGreaterThan(600_000);
    }

    @Test
    void an_open_repository_sees_a_ref_another_replica_moved_after_a_refresh_and_every_new_open_sees_it()
            throws IOException {
        try (Repository early = one.open("prj_a", "repo", "main")) {
            assertThat(head(early, "main")).isNull();
            ObjectId c1;
            try (Repository other = two.open("prj_a", "repo", "main")) {
                c1 = commit(other, null, 100, "from two");
                move(other, "main", null, c1);
            }
            early.scanForRepoChanges();
            assertThat(head(early, "main")).isEqualTo(c1);
            try (Repository fresh = one.open("prj_a", "repo", "main")) {
                assertThat(head(fresh, "main")).isEqualTo(c1);
            }
        }
    }

    @Test
    void two_replicas_moving_one_ref_from_the_same_commit_one_wins_and_the_other_ref_update_fails()
            throws IOException {
        ObjectId base;
        try (Repository repo = one.open("prj_a", "repo", "main")) {
            base = commit(repo, null, 100, "base");
            move(repo, "main", null, base);
        }
        try (Repository a = one.open("prj_a", "repo", "main"); Repository b = two.open("prj_a", "repo", "main")) {
            assertThat(head(a, "main")).isEqualTo(base);
            assertThat(head(b, "main")).isEqualTo(base); // both read the refs before either writes
            ObjectId fromA = commit(a, base, 100, "a");
            ObjectId fromB = commit(b, base, 100, "b");

            assertThat(move(a, "main", base, fromA)).isEqualTo(RefUpdate.Result.FAST_FORWARD);
            RefUpdate.Result loser = move(b, "main", base, fromB);

            assertThat(loser).isIn(RefUpdate.Result.LOCK_FAILURE, RefUpdate.Result.IO_FAILURE);
            try (Repository fresh = two.open("prj_a", "repo", "main")) {
                assertThat(head(fresh, "main")).isEqualTo(fromA);
                // The loser's objects are stored; after a fresh read its update goes through.
                ObjectId rebased = commit(fresh, fromA, 100, "b rebased");
                assertThat(move(fresh, "main", fromA, rebased)).isEqualTo(RefUpdate.Result.FAST_FORWARD);
            }
        }
    }

    @Test
    void a_compaction_never_runs_inside_a_push_and_runs_once_the_push_has_ended() throws Exception {
        ObjectId parent = null;
        try (DatabaseRepoStore patient = store("patient", 1000)) {
            for (int i = 0; i <= COMPACT_ABOVE; i++) {
                try (Repository repo = patient.open("prj_a", "repo", "main")) {
                    ObjectId next = commit(repo, parent, 100, "c" + i);
                    move(repo, "main", parent, next);
                    parent = next;
                }
            }
        }
        long id = one.idOf("prj_a", "repo").orElseThrow();
        try (Connection push = db.openUnpooled()) {
            assertThat(ProjectLocks.tryLock(push, "prj_a")).as("a push to the project takes its lock").isTrue();
            assertThat(one.compact(id)).as("no compaction while the push runs").isFalse();
        }
        assertThat(one.compact(id)).as("the push ended").isTrue();
    }

    @Test
    void many_packs_compact_into_few_under_a_lease_and_history_stays_whole() throws IOException {
        List<ObjectId> commits = new ArrayList<>();
        ObjectId parent = null;
        try (DatabaseRepoStore patient = store("patient", 1000); Repository repo = patient.open("prj_a", "repo", "main")) {
            for (int i = 0; i < COMPACT_ABOVE + 4; i++) {
                ObjectId next = commit(repo, parent, 5_000, "c" + i);
                move(repo, "main", parent, next);
                commits.add(next);
                parent = next;
            }
        }
        long id = one.idOf("prj_a", "repo").orElseThrow();
        GitPackStore packs = one.packs();
        // A reader that listed the packs before the compaction.
        try (Repository reader = two.open("prj_a", "repo", "main")) {
            assertThat(head(reader, "main")).isEqualTo(parent);
            db.execute("UPDATE git_repositories SET compact_holder = 'replica-elsewhere', compact_until = ? WHERE id = ?",
                    System.currentTimeMillis() + 60_000, id);
            assertThat(two.compact(id)).as("another replica's lease is running").isFalse();
            db.execute("UPDATE git_repositories SET compact_until = ? WHERE id = ?", System.currentTimeMillis() - 1, id);

            assertThat(two.compact(id)).as("a lease left by a dead replica is taken over").isTrue();

            assertThat(packs.objectPacks(id)).isLessThanOrEqualTo(2);
            for (ObjectId commit : commits) {
                assertThat(reader.open(commit).getType()).isEqualTo(Constants.OBJ_COMMIT);
            }
            // A ref update decided on the refs read before the compaction still goes through.
            ObjectId during = commit(reader, parent, 100, "during");
            assertThat(move(reader, "main", parent, during)).isEqualTo(RefUpdate.Result.FAST_FORWARD);
            commits.add(during);
            parent = during;
        }
        String leaseHolder = db.withHandle(h -> h.createQuery("SELECT compact_holder FROM git_repositories WHERE id = "
                + id).mapTo(String.class).one());
        assertThat(leaseHolder).as("the lease is released").isNull();
        try (Repository fresh = one.open("prj_a", "repo", "main"); RevWalk walk = new RevWalk(fresh)) {
            assertThat(head(fresh, "main")).isEqualTo(parent);
            walk.markStart(walk.parseCommit(parent));
            int count = 0;
            for (RevCommit c : walk) {
                assertThat(fresh.open(c.getTree()).getType()).isEqualTo(Constants.OBJ_TREE);
                count++;
            }
            assertThat(count).isEqualTo(commits.size());
            ObjectId after = commit(fresh, parent, 100, "after");
            assertThat(move(fresh, "main", parent, after)).isEqualTo(RefUpdate.Result.FAST_FORWARD);
        }
        // The replaced packs' bytes outlive the list for a grace period, then go.
        int before = packs.sweep(0, 0);
        assertThat(before).isZero();
        assertThat(packs.sweep(System.currentTimeMillis() + 1, 0)).isGreaterThan(0);
        try (Repository fresh = two.open("prj_a", "repo", "main")) {
            for (ObjectId commit : commits) {
                assertThat(fresh.open(commit).getType()).isEqualTo(Constants.OBJ_COMMIT);
            }
        }
    }

    @Test
    void compaction_is_queued_by_itself_once_the_instance_that_added_too_many_packs_is_closed() throws Exception {
        ObjectId parent = null;
        long id;
        try (Repository repo = one.open("prj_a", "repo", "main")) {
            for (int i = 0; i < COMPACT_ABOVE + 2; i++) {
                ObjectId next = commit(repo, parent, 100, "c" + i);
                move(repo, "main", parent, next);
                parent = next;
            }
            // A push's instance stays open until the push ends: a compaction now would take its lock.
            Thread.sleep(1000); // what is compacted at once after the close (see below)
            id = one.idOf("prj_a", "repo").orElseThrow();
            assertThat(one.packs().objectPacks(id)).isEqualTo(COMPACT_ABOVE + 2);
        }
        await().atMost(Duration.ofSeconds(30)).until(() -> db.withHandle(h -> h.createQuery(
                "SELECT COUNT(*) FROM git_packs WHERE source = 'GC' AND dropped_at IS NULL").mapTo(Integer.class).one()) == 1);
        assertThat(one.packs().objectPacks(id)).isLessThanOrEqualTo(COMPACT_ABOVE);
    }

    @Test
    void a_store_for_an_operators_command_never_compacts_what_it_writes() throws Exception {
        ObjectId parent = null;
        try (DatabaseRepoStore command = new DatabaseRepoStore(db, new LocalStorage(dir.resolve("command"),
                Config.ArchiveLimits.DEFAULTS).repos(), COMPACT_ABOVE, false);
             Repository repo = command.open("prj_a", "repo", "main")) {
            for (int i = 0; i < COMPACT_ABOVE + 2; i++) {
                ObjectId next = commit(repo, parent, 100, "c" + i);
                move(repo, "main", parent, next);
                parent = next;
            }
            Thread.sleep(1000); // what a maintaining store would have compacted by now (see above)
            assertThat(command.packs().objectPacks(command.idOf("prj_a", "repo").orElseThrow()))
                    .isEqualTo(COMPACT_ABOVE + 2);
        }
    }

    @Test
    void a_file_of_any_size_is_stored_with_its_size_in_whole_chunks_and_reads_back() throws IOException {
        int chunk = GitPackStore.CHUNK_BYTES;
        try (Repository opened = one.open("prj_a", "repo", "main")) {
            DatabaseRepository.ObjDatabase objects = ((DatabaseRepository) opened).getObjectDatabase();
            long id = one.idOf("prj_a", "repo").orElseThrow();
            for (int size : new int[] {0, 1, 1000, chunk - 1, chunk, chunk + 1, 2 * chunk + 5}) {
                byte[] content = new byte[size];
                new Random(size).nextBytes(content);
                DfsPackDescription pack = objects.newPack(DfsObjDatabase.PackSource.INSERT);
                try (DfsOutputStream out = objects.writeFile(pack, PackExt.PACK)) {
                    out.write(content, 0, size / 3);
                    out.write(content, size / 3, size - size / 3);
                }
                assertThat(one.packs().fileSize(id, pack.getPackName(), "pack")).as("size of %d bytes", size)
                        .isEqualTo(size);
                int chunks = db.withHandle(h -> h.createQuery("SELECT COUNT(*) FROM git_pack_chunks WHERE pack_name = :p")
                        .bind("p", pack.getPackName()).mapTo(Integer.class).one());
                assertThat(chunks).as("chunks of %d bytes", size).isEqualTo((size + chunk - 1) / chunk);
                ByteBuffer back = ByteBuffer.allocate(size);
                try (ReadableChannel in = objects.openFile(pack, PackExt.PACK)) {
                    while (back.hasRemaining() && in.read(back) > 0) {
                        // reads on
                    }
                }
                assertThat(back.array()).as("bytes of %d", size).isEqualTo(content);
            }
        }
    }

    @Test
    void files_of_a_pack_never_committed_are_swept_after_their_grace_and_committed_ones_stay() throws IOException {
        try (Repository repo = one.open("prj_a", "repo", "main")) {
            ObjectId c = commit(repo, null, 100, "kept");
            move(repo, "main", null, c);
        }
        long id = one.idOf("prj_a", "repo").orElseThrow();
        GitPackStore packs = one.packs();
        packs.beginFile(id, "pack-dead-RECEIVE", "pack");
        packs.writeChunk(id, "pack-dead-RECEIVE", "pack", 0, "half".getBytes(StandardCharsets.UTF_8));

        assertThat(packs.sweep(0, System.currentTimeMillis() - 60_000)).isZero();
        assertThat(packs.sweep(0, System.currentTimeMillis() + 1)).isEqualTo(1);

        assertThat(packs.fileSize(id, "pack-dead-RECEIVE", "pack")).isEqualTo(-1);
        try (Repository repo = two.open("prj_a", "repo", "main")) {
            assertThat(head(repo, "main")).isNotNull();
        }
    }

    @Test
    void deleting_a_folder_of_repositories_removes_them_and_their_bytes() throws IOException {
        for (String name : List.of("repo", "caches/aa", "caches/bb")) {
            try (Repository repo = one.open("prj_a", name, null)) {
                move(repo, "main", null, commit(repo, null, 1000, name));
            }
        }
        one.delete("prj_a", "caches/");
        assertThat(two.openExisting("prj_a", "caches/aa")).isEmpty();
        assertThat(two.openExisting("prj_a", "caches/bb")).isEmpty();
        assertThat(two.openExisting("prj_a", "repo")).isPresent();
        one.delete("prj_a", "repo");
        assertThat(one.size("prj_a")).isZero();
        int chunks = db.withHandle(h -> h.createQuery("SELECT COUNT(*) FROM git_pack_chunks").mapTo(Integer.class).one());
        assertThat(chunks).isZero();
    }
}
