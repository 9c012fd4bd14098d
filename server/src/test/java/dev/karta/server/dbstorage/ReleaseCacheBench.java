package dev.karta.server.dbstorage;

import dev.karta.server.Config;
import dev.karta.server.build.Materializer;
import dev.karta.server.build.ReleaseFiles;
import dev.karta.server.build.Tree;
import dev.karta.server.datadir.LocalStorage;
import dev.karta.server.store.Database;
import dev.karta.server.testkit.TarBuilder;
import io.zonky.test.db.postgres.embedded.EmbeddedPostgres;
import java.io.ByteArrayInputStream;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Random;

/**
 * Release files in the database, run by {@code bench/release-cache.sh}: for a release of
 * {@code files} text files and {@code megabytes} MB on the embedded PostgreSQL, the time to keep
 * it (archive and packed tree into the database), the time to read the packed tree from the
 * database alone, and the time a server with an empty cache takes to check the tree out (fetched,
 * unpacked, checked and renamed into place). Prints one line per figure.
 */
public final class ReleaseCacheBench {
    public static void main(String[] args) throws Exception {
        int files = args.length > 0 ? Integer.parseInt(args[0]) : 5000;
        long megabytes = args.length > 1 ? Long.parseLong(args[1]) : 50;
        int runs = args.length > 2 ? Integer.parseInt(args[2]) : 5;
        Path work = Files.createTempDirectory("karta-cache-bench");
        Config.ArchiveLimits limits = new Config.ArchiveLimits(1L << 30, 4L << 30, 100_000, 1024, 32);
        try (EmbeddedPostgres postgres = EmbeddedPostgres.builder().start();
             Database db = Database.open(postgres.getJdbcUrl("postgres", "postgres"))) {
            byte[] archive = archive(files, megabytes << 20);
            DatabaseReleaseFiles publisher = new DatabaseReleaseFiles(db, new Blobs(db),
                    new LocalStorage(work.resolve("publisher"), limits).releaseCache());
            Tree tree;
            long t0 = System.nanoTime();
            try (ReleaseFiles.Incoming incoming = publisher.receive(new ByteArrayInputStream(archive), Long.MAX_VALUE)) {
                tree = incoming.extract();
                long t1 = System.nanoTime();
                incoming.keep();
                System.out.printf("release: %d files, %d bytes, archive %d bytes%n", tree.files(), tree.bytes(),
                        archive.length);
                System.out.printf("receive + extract: %.0f ms; keep (cache + database): %.0f ms%n",
                        (t1 - t0) / 1e6, (System.nanoTime() - t1) / 1e6);
            }
            String blob = db.withHandle(h -> h.createQuery("SELECT blob FROM stored_trees").mapTo(String.class).one());
            List<Double> reads = new ArrayList<>();
            for (int i = 0; i < runs; i++) {
                long start = System.nanoTime();
                try (InputStream in = new Blobs(db).open(blob).orElseThrow()) {
                    in.transferTo(OutputStream.nullOutputStream());
                }
                reads.add((System.nanoTime() - start) / 1e6);
            }
            Collections.sort(reads);
            System.out.printf("reading the packed tree (%d bytes) from the database alone: median %.0f ms%n",
                    new Blobs(db).size(blob), reads.get(reads.size() / 2));
            List<Double> cold = new ArrayList<>();
            for (int i = 0; i < runs; i++) {
                Path cache = work.resolve("replica-" + i);
                DatabaseReleaseFiles replica = new DatabaseReleaseFiles(db, new Blobs(db),
                        new LocalStorage(cache, limits).releaseCache());
                long start = System.nanoTime();
                replica.checkOut(tree.contentDigest()).orElseThrow();
                cold.add((System.nanoTime() - start) / 1e6);
                Materializer.deleteRecursively(cache);
            }
            Collections.sort(cold);
            System.out.printf("cold-cache checkout of the tree, %d runs: min %.0f ms, median %.0f ms, max %.0f ms%n",
                    runs, cold.get(0), cold.get(cold.size() / 2), cold.get(cold.size() - 1));
        } finally {
            Materializer.deleteRecursively(work);
        }
    }

    /** {@code files} files of random letters, digits, spaces and newlines, {@code bytes} in all. */
    private static byte[] archive(int files, long bytes) {
        TarBuilder tar = new TarBuilder().file("CLAUDE.md", "# bench\n");
        Random random = new Random(42);
        int size = (int) (bytes / files);
        char[] alphabet = "abcdefghijklmnopqrstuvwxyz0123456789 \n".toCharArray();
        for (int i = 0; i < files; i++) {
            char[] content = new char[size];
            for (int c = 0; c < size; c++) {
                content[c] = alphabet[random.nextInt(alphabet.length)];
            }
            tar.file("src/d" + (i % 50) + "/f" + i + ".txt", new String(content));
        }
        return tar.build();
    }
}
