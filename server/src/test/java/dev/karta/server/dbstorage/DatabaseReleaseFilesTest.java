package dev.karta.server.dbstorage;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.karta.server.Config;
import dev.karta.server.build.ReleaseFiles;
import dev.karta.server.build.Tree;
import dev.karta.server.datadir.LocalStorage;
import dev.karta.server.datadir.ReleaseCache;
import dev.karta.server.store.Database;
import dev.karta.server.testkit.PostgresDatabase;
import dev.karta.server.testkit.PostgresExtension;
import dev.karta.server.testkit.TarBuilder;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

/**
 * Release files in PostgreSQL as two servers see them: one database, two data dirs as caches.
 * What server A keeps, server B serves from the database, whatever its cache holds.
 */
@ExtendWith(PostgresExtension.class)
class DatabaseReleaseFilesTest {
    @TempDir
    Path dirA;
    @TempDir
    Path dirB;

    private Database db;
    private DatabaseReleaseFiles a;
    private DatabaseReleaseFiles b;

    @BeforeEach
    void open(PostgresDatabase postgres) {
        db = Database.open(postgres.url());
        a = files(dirA);
        b = files(dirB);
    }

    private DatabaseReleaseFiles files(Path dataDir) {
        return new DatabaseReleaseFiles(db, new Blobs(db),
                new LocalStorage(dataDir, Config.ArchiveLimits.DEFAULTS).releaseCache());
    }

    @AfterEach
    void close() {
        db.close();
    }

    /** Every kind of member a tree keeps: nested and empty folders, modes, links, long and non-ASCII names. */
    private static byte[] richApp(String marker) {
        String deep = "deep/" + "a-rather-long-folder-name/".repeat(5) + "file-with-a-name-past-one-hundred-bytes.md";
        return new TarBuilder()
                .dir("app")
                .file("app/CLAUDE.md", "# " + marker + "\n")
                .file("app/bin/run.sh", "#!/bin/sh\necho " + marker + "\n", 0755)
                .file("app/" + deep, "deep\n")
                .file("app/notes/ünïcode.txt", "ü\n")
                .dir("app/empty")
                .symlink("app/README.md", "CLAUDE.md")
                .symlink("app/scripts", "bin")
                .build();
    }

    /** Receives, extracts and keeps an archive, as an upload does. */
    private static Kept keep(ReleaseFiles files, byte[] archive) throws IOException {
        try (ReleaseFiles.Incoming incoming = files.receive(new ByteArrayInputStream(archive), 1 << 20)) {
            Tree tree = incoming.extract();
            incoming.keep();
            return new Kept(incoming.artifact(), tree);
        }
    }

    private record Kept(String artifact, Tree tree) {
    }

    @Test
    void a_tree_kept_by_one_server_is_checked_out_by_another_from_the_database_exactly_as_it_was() throws IOException {
        Kept kept = keep(a, richApp("one"));
        String digest = kept.tree().contentDigest();

        assertThat(b.hasTree(digest)).isTrue();
        assertThat(b.treeBytes(digest)).isEqualTo(kept.tree().bytes()).isPositive();
        Tree out = b.checkOut(digest).orElseThrow();

        assertThat(out.dir()).startsWith(dirB);
        assertThat(out.files()).isEqualTo(kept.tree().files());
        assertThat(out.bytes()).isEqualTo(kept.tree().bytes());
        assertThat(listing(out.dir())).isEqualTo(listing(kept.tree().dir()));
        assertThat(b.fetches()).isEqualTo(1);
        assertThat(b.checkOut(digest)).as("cached now").isPresent();
        assertThat(b.fetches()).isEqualTo(1);
    }

    @Test
    void a_cache_deleted_while_the_server_runs_is_filled_again_from_the_database() throws IOException {
        byte[] archive = TarBuilder.app("wiped");
        Kept kept = keep(a, archive);
        b.checkOut(kept.tree().contentDigest()).orElseThrow();

        delete(dirB.resolve("trees"));
        delete(dirB.resolve("artifacts"));

        Tree again = b.checkOut(kept.tree().contentDigest()).orElseThrow();
        assertThat(again.dir().resolve("CLAUDE.md")).hasContent("# wiped");
        assertThat(b.fetches()).isEqualTo(2);
        try (InputStream in = b.openArchive(kept.artifact()).orElseThrow()) {
            assertThat(in.readAllBytes()).isEqualTo(archive);
        }
    }

    @Test
    void concurrent_checkouts_of_one_tree_fetch_it_once() throws Exception {
        Kept kept = keep(a, richApp("many"));
        int threads = 8;
        CountDownLatch start = new CountDownLatch(1);
        ExecutorService pool = Executors.newFixedThreadPool(threads);
        try {
            List<Future<Optional<Tree>>> outs = new ArrayList<>();
            for (int i = 0; i < threads; i++) {
                outs.add(pool.submit(() -> {
                    start.await();
                    return b.checkOut(kept.tree().contentDigest());
                }));
            }
            start.countDown();
            for (Future<Optional<Tree>> out : outs) {
                assertThat(out.get().orElseThrow().dir()).isDirectory();
            }
        } finally {
            pool.shutdownNow();
        }
        assertThat(b.fetches()).isEqualTo(1);
    }

    @Test
    void an_archive_kept_by_one_server_is_read_by_another_through_its_cache() throws IOException {
        byte[] archive = TarBuilder.app("archived");
        Kept kept = keep(a, archive);

        assertThat(b.hasArchive(kept.artifact())).isTrue();
        assertThat(b.archiveBytes(kept.artifact())).isEqualTo(archive.length);
        try (InputStream in = b.openArchive(kept.artifact()).orElseThrow()) {
            assertThat(in.readAllBytes()).isEqualTo(archive);
        }
        assertThat(dirB.resolve("artifacts").resolve(kept.artifact() + ".tar.gz")).exists();
        assertThat(b.openArchive("0".repeat(64))).isEmpty();
    }

    @Test
    void the_same_archive_and_tree_kept_twice_are_stored_once() throws IOException {
        byte[] archive = TarBuilder.app("shared"); // archives carry times: the same bytes, sent twice
        Kept first = keep(a, archive);
        Kept second = keep(b, archive);

        assertThat(second.artifact()).isEqualTo(first.artifact());
        assertThat(second.tree().contentDigest()).isEqualTo(first.tree().contentDigest());
        assertThat(count("SELECT COUNT(*) FROM stored_trees")).isEqualTo(1);
        assertThat(count("SELECT COUNT(*) FROM blobs")).as("the archive and the packed tree").isEqualTo(2);
    }

    @Test
    void an_archive_received_but_not_kept_leaves_nothing_in_the_database() throws IOException {
        try (ReleaseFiles.Incoming incoming = a.receive(new ByteArrayInputStream(TarBuilder.app("dropped")), 1 << 20)) {
            incoming.extract();
        }

        assertThat(count("SELECT COUNT(*) FROM blobs")).isZero();
        assertThat(count("SELECT COUNT(*) FROM stored_trees")).isZero();
    }

    @Test
    void a_tree_whose_blob_was_corrupted_is_refused_naming_it_and_nothing_is_cached() throws IOException {
        Kept kept = keep(a, richApp("corrupt"));
        String digest = kept.tree().contentDigest();
        String blob = db.withHandle(h -> h.createQuery("SELECT blob FROM stored_trees").mapTo(String.class).one());
        // Four bytes inside the compressed data: the tar may still unpack, but not to these bytes.
        db.execute("UPDATE blob_chunks SET data = overlay(data placing '\\x00000000'::bytea from 60 for 4) "
                + "WHERE digest = ?", blob);

        assertThat(b.checkOut(digest)).isEmpty();

        assertThat(b.hasTree(digest)).as("still stored: an operator may repair it").isTrue();
        assertThat(dirB.resolve("trees").resolve(digest.substring("sha256:".length()))).doesNotExist();
        assertThat(children(dirB.resolve("trees").resolve(".staging"))).as("nothing staged is left").isEmpty();
        assertThat(b.fetches()).isZero();
    }

    @Test
    void a_packed_tree_of_other_content_is_refused_and_nothing_is_cached() throws IOException {
        Kept one = keep(a, TarBuilder.app("one"));
        Kept two = keep(a, TarBuilder.app("two"));
        db.execute("UPDATE stored_trees SET blob = (SELECT blob FROM stored_trees WHERE content_digest = ?) "
                + "WHERE content_digest = ?", two.tree().contentDigest(), one.tree().contentDigest());

        assertThat(b.checkOut(one.tree().contentDigest())).isEmpty();

        assertThat(children(dirB.resolve("trees"))).containsOnly(".staging");
        assertThat(children(dirB.resolve("trees").resolve(".staging"))).isEmpty();
    }

    @Test
    void a_cached_tree_damaged_on_disk_is_not_stored_in_its_name_and_neither_is_its_archive() throws IOException {
        byte[] archive = richApp("damaged");
        Kept cachedOnly = keep(new LocalStorage(dirB, Config.ArchiveLimits.DEFAULTS).releaseFiles(), archive);
        Files.writeString(cachedOnly.tree().dir().resolve("CLAUDE.md"), "# changed on disk\n");

        assertThatThrownBy(() -> keep(b, archive)).isInstanceOf(ReleaseCache.NotTheTree.class)
                .hasMessageContaining(cachedOnly.tree().contentDigest());

        assertThat(b.hasTree(cachedOnly.tree().contentDigest())).isFalse();
        assertThat(b.hasArchive(cachedOnly.artifact())).isFalse();
        assertThat(count("SELECT COUNT(*) FROM blobs")).isZero();
    }

    @Test
    void an_archive_whose_blob_was_corrupted_is_refused_and_not_cached() throws IOException {
        Kept kept = keep(a, TarBuilder.app("corrupt archive"));
        db.execute("UPDATE blob_chunks SET data = overlay(data placing '\\x00'::bytea from 20 for 1) WHERE digest = ?",
                kept.artifact());

        assertThatThrownBy(() -> b.openArchive(kept.artifact())).isInstanceOf(Blobs.Corrupt.class)
                .hasMessageContaining(kept.artifact());

        assertThat(children(dirB.resolve("artifacts"))).isEmpty();
    }

    @Test
    void a_removed_tree_is_gone_for_every_server_even_one_that_had_cached_it() throws IOException {
        Kept kept = keep(a, TarBuilder.app("pruned"));
        String digest = kept.tree().contentDigest();
        b.checkOut(digest).orElseThrow();

        ReleaseFiles.Removal removal = a.removeTree(digest);
        assertThat(removal).isNotNull();
        removal.finish();

        assertThat(a.hasTree(digest)).isFalse();
        assertThat(b.hasTree(digest)).isFalse();
        assertThat(b.checkOut(digest)).as("B's cached copy is not served").isEmpty();
        assertThat(b.treeBytes(digest)).isZero();
        assertThat(dirA.resolve("trees").resolve(digest.substring("sha256:".length()))).doesNotExist();
        assertThat(count("SELECT COUNT(*) FROM stored_trees")).isZero();
        assertThat(count("SELECT COUNT(*) FROM blobs")).as("the archive stays").isEqualTo(1);
        assertThat(a.removeTree(digest)).isNull();
    }

    @Test
    void a_sweep_deletes_what_nothing_refers_to_from_the_database_and_the_cache() throws IOException {
        Kept kept = keep(a, TarBuilder.app("kept"));
        Kept dropped = keep(a, TarBuilder.app("dropped"));
        Instant later = Instant.now().plusSeconds(1);

        a.sweepUnreferenced(Instant.now().minusSeconds(60), digest -> false, artifact -> false);
        assertThat(count("SELECT COUNT(*) FROM blobs")).as("all younger than the cutoff").isEqualTo(4);

        a.sweepUnreferenced(later, kept.tree().contentDigest()::equals, kept.artifact()::equals);

        assertThat(a.hasTree(kept.tree().contentDigest())).isTrue();
        assertThat(a.hasArchive(kept.artifact())).isTrue();
        assertThat(a.hasTree(dropped.tree().contentDigest())).isFalse();
        assertThat(a.hasArchive(dropped.artifact())).isFalse();
        assertThat(count("SELECT COUNT(*) FROM blobs")).isEqualTo(2);
        assertThat(count("SELECT COUNT(*) FROM blob_chunks")).isEqualTo(2);
        assertThat(dirA.resolve("trees").resolve(dropped.tree().contentDigest().substring("sha256:".length())))
                .doesNotExist();
    }

    @Test
    void a_sweep_spares_a_tree_and_archive_kept_again_after_it_found_them_unreferenced() throws Exception {
        byte[] archive = TarBuilder.app("reused");
        Kept first = keep(a, archive);
        Thread.sleep(5);
        Instant cutoff = Instant.now(); // the sweep on A decides here that nothing refers to them…
        Thread.sleep(5);
        keep(b, archive); // …while a release of another project on B reuses them

        a.sweepUnreferenced(cutoff, digest -> false, artifact -> false);

        assertThat(b.hasTree(first.tree().contentDigest())).isTrue();
        assertThat(b.hasArchive(first.artifact())).isTrue();
    }

    private long count(String sql) {
        return db.withHandle(h -> h.createQuery(sql).mapTo(Long.class).one());
    }

    /** Each path under {@code root} with its type, mode and content (or link target). */
    private static Map<String, String> listing(Path root) throws IOException {
        Map<String, String> out = new TreeMap<>();
        try (Stream<Path> walk = Files.walk(root)) {
            for (Path p : walk.toList()) {
                String name = root.relativize(p).toString();
                if (Files.isSymbolicLink(p)) {
                    out.put(name, "link " + Files.readSymbolicLink(p));
                } else if (Files.isDirectory(p, LinkOption.NOFOLLOW_LINKS)) {
                    out.put(name, "dir");
                } else {
                    out.put(name, PosixFilePermissions.toString(Files.getPosixFilePermissions(p)) + " "
                            + Files.readString(p));
                }
            }
        }
        return out;
    }

    private static List<String> children(Path dir) throws IOException {
        if (!Files.isDirectory(dir)) {
            return List.of();
        }
        try (Stream<Path> list = Files.list(dir)) {
            return list.map(p -> p.getFileName().toString()).toList();
        }
    }

    private static void delete(Path dir) {
        try {
            dev.karta.server.build.Materializer.deleteRecursively(dir);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
