package dev.karta.server.dbstorage;

import dev.karta.server.build.ReleaseFiles;
import dev.karta.server.build.Tree;
import dev.karta.server.datadir.ReleaseCache;
import dev.karta.server.store.Database;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.time.Instant;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Predicate;
import org.jdbi.v3.core.Handle;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Release files kept in the database, with this machine's data dir as a cache that may be wiped at
 * any time. An archive is the {@link Blobs blob} named by its sha256 (a deploy's artifact); a tree
 * is a row of {@code stored_trees} (content digest, file count, bytes) naming the blob of the tree
 * packed as a deterministic tar ({@link ReleaseCache#pack}). Both are written once, when an archive
 * is kept, and are shared by every release and project with the same bytes or content.
 *
 * <p>Archives are received and extracted in the cache as the data dir does it; {@link
 * Incoming#keep} puts them in the cache and then, archive and tree in one transaction, in the
 * database: inside the caller's transaction when there is one (an upload's, which records its
 * deploy: a refused upload stores nothing). Whether a tree or an archive is
 * stored, and its size, is answered by the database alone. {@link #checkOut} and
 * {@link #openArchive} serve the cached copy, or first fetch it from the database into the cache,
 * checked against its digest (a corrupt blob is never cached); concurrent fetches of one tree on
 * one server fetch it once. Removing and sweeping act on the database and on this cache; other
 * servers' caches keep their copies, which they no longer serve once the database lacks them.
 */
final class DatabaseReleaseFiles implements ReleaseFiles {
    private static final Logger LOG = LoggerFactory.getLogger(DatabaseReleaseFiles.class);

    private final Database db;
    private final Blobs blobs;
    private final ReleaseCache cache;
    private final ReleaseFiles local;
    /** The fetch in progress for each tree digest or archive: the first caller fetches, the others wait for it. */
    private final ConcurrentHashMap<String, CompletableFuture<Void>> fetching = new ConcurrentHashMap<>();
    private final AtomicInteger fetches = new AtomicInteger();

    DatabaseReleaseFiles(Database db, Blobs blobs, ReleaseCache cache) {
        this.db = db;
        this.blobs = blobs;
        this.cache = cache;
        this.local = cache.files();
    }

    /** A tree's row: its content digest, the blob of its packed form, and its counts. */
    private record StoredTree(String contentDigest, String blob, int files, long bytes) {
    }

    @Override
    public Incoming receive(InputStream gzipTar, long maxArchiveBytes) throws IOException {
        return new Kept(local.receive(gzipTar, maxArchiveBytes));
    }

    /** An archive received into the cache, which joins the database too when it is kept. */
    private final class Kept implements Incoming {
        private final Incoming received;
        private Tree tree;

        Kept(Incoming received) {
            this.received = received;
        }

        @Override
        public String artifact() {
            return received.artifact();
        }

        @Override
        public long bytes() {
            return received.bytes();
        }

        @Override
        public Tree extract() throws IOException {
            tree = received.extract();
            return tree;
        }

        @Override
        public void keep() throws IOException {
            received.keep();
            db.inTransaction(h -> {
                storeArchive(received.artifact());
                if (tree != null) {
                    storeTree(tree);
                }
                return null;
            });
        }

        @Override
        public void close() throws IOException {
            received.close();
        }
    }

    /**
     * Stores the cached archive, or refreshes it when it is stored already: most archives are new,
     * so the write comes first. A sweep may delete a stored one between the write that found it and
     * the refresh, which then finds nothing: the write is tried again.
     */
    private void storeArchive(String artifact) throws IOException {
        while (!blobs.write(artifact, out -> {
            try (InputStream in = local.openArchive(artifact).orElseThrow(() -> new IOException(
                    "the archive sha256:" + artifact + " is not in the cache"))) {
                in.transferTo(out);
            }
        })) {
            if (refreshed("UPDATE blobs SET stored_at = :now WHERE digest = :d", artifact)) {
                return;
            }
        }
    }

    /** Packs a cached tree and stores it with its row, in one transaction; nothing when it is stored. */
    private void storeTree(Tree tree) throws IOException {
        if (refreshed("UPDATE stored_trees SET stored_at = :now WHERE content_digest = :d", tree.contentDigest())) {
            return;
        }
        long started = System.nanoTime();
        try (ReleaseCache.Packed packed = cache.pack(tree.contentDigest())) {
            boolean stored;
            try {
                stored = db.inTransaction(h -> {
                    blobs.write(h, packed.sha256(), out -> {
                        try (InputStream in = packed.open()) {
                            in.transferTo(out);
                        }
                    });
                    int inserted = h.createUpdate("INSERT INTO stored_trees (content_digest, blob, files, bytes, "
                                    + "stored_at) VALUES (:d, :b, :f, :n, :now) ON CONFLICT (content_digest) DO NOTHING")
                            .bind("d", tree.contentDigest()).bind("b", packed.sha256()).bind("f", tree.files())
                            .bind("n", tree.bytes()).bind("now", System.currentTimeMillis()).execute();
                    if (inserted == 0) {
                        throw new StoredMeanwhile();
                    }
                    return true;
                });
            } catch (StoredMeanwhile e) {
                // Another server stored this tree meanwhile, perhaps packed to other bytes: only its blob stays.
                stored = false;
            }
            if (stored) {
                LOG.info("stored tree {} ({} files, {} bytes, packed {} bytes) in the database in {} ms",
                        tree.contentDigest(), tree.files(), tree.bytes(), packed.bytes(),
                        (System.nanoTime() - started) / 1_000_000);
            }
        }
    }

    /**
     * Marks a stored tree or archive as just stored again, so that a sweep that found it
     * unreferenced a moment ago (on any replica) spares it: sweeps delete only what is still older
     * than their cutoff. False when it is not stored (any more): the caller stores it.
     */
    private boolean refreshed(String update, String digest) {
        return db.withHandle(h -> h.createUpdate(update).bind("now", System.currentTimeMillis()).bind("d", digest)
                .execute()) > 0;
    }

    /** Rolls back a tree's transaction when another server stored the tree first. */
    private static final class StoredMeanwhile extends RuntimeException {
        StoredMeanwhile() {
            super(null, null, false, false);
        }
    }

    private Optional<StoredTree> storedTree(String contentDigest) {
        return db.withHandle(h -> h.createQuery(
                        "SELECT content_digest, blob, files, bytes FROM stored_trees WHERE content_digest = :d")
                .bind("d", contentDigest)
                .map((rs, ctx) -> new StoredTree(rs.getString("content_digest"), rs.getString("blob"),
                        rs.getInt("files"), rs.getLong("bytes")))
                .findOne());
    }

    @Override
    public boolean hasTree(String contentDigest) {
        return storedTree(contentDigest).isPresent();
    }

    /**
     * The tree as a folder of this machine's cache, fetched from the database first when the cache
     * lacks it; empty when the database does not store it, or when its blob is corrupt or unpacks to
     * another tree (logged as an error, nothing cached). Other failures (the database unreachable,
     * a full disk) are thrown.
     */
    @Override
    public Optional<Tree> checkOut(String contentDigest) {
        Optional<StoredTree> stored = storedTree(contentDigest);
        if (stored.isEmpty()) {
            return Optional.empty();
        }
        StoredTree tree = stored.get();
        try {
            fetchOnce(contentDigest, () -> {
                if (cache.tree(contentDigest, tree.files(), tree.bytes()).isEmpty()) {
                    fetchTree(tree);
                }
            });
        } catch (Blobs.Corrupt | ReleaseCache.NotTheTree e) {
            LOG.error("cannot check out the tree {}: {}", contentDigest, e.getMessage());
            return Optional.empty();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot check out the tree " + contentDigest, e);
        }
        return cache.tree(contentDigest, tree.files(), tree.bytes());
    }

    private void fetchTree(StoredTree tree) throws IOException {
        long started = System.nanoTime();
        try (InputStream in = blobs.open(tree.blob()).orElseThrow(() -> new IOException("the blob sha256:"
                + tree.blob() + " of the tree " + tree.contentDigest() + " is not stored"))) {
            try {
                cache.unpack(tree.contentDigest(), tree.files(), tree.bytes(), in);
            } catch (IOException | RuntimeException e) {
                // Corrupt bytes may break the unpacking before the blob's own check at its end: read
                // on to that check, which names the blob, and report what it finds.
                in.transferTo(OutputStream.nullOutputStream());
                if (e instanceof ReleaseCache.NotTheTree) {
                    throw e;
                }
                throw new IOException("the stored tree " + tree.contentDigest() + " cannot be unpacked: "
                        + e.getMessage(), e);
            }
        }
        fetches.incrementAndGet();
        LOG.info("fetched tree {} ({} files, {} bytes) from the database into the cache in {} ms",
                tree.contentDigest(), tree.files(), tree.bytes(), (System.nanoTime() - started) / 1_000_000);
    }

    @FunctionalInterface
    private interface Fetch {
        void run() throws IOException;
    }

    /**
     * Runs {@code fetch} for {@code key} unless another thread of this server is running it, in
     * which case this one waits for that one and shares its outcome.
     */
    private void fetchOnce(String key, Fetch fetch) throws IOException {
        CompletableFuture<Void> mine = new CompletableFuture<>();
        CompletableFuture<Void> running = fetching.putIfAbsent(key, mine);
        if (running != null) {
            try {
                running.join();
                return;
            } catch (CompletionException e) {
                if (e.getCause() instanceof IOException io) {
                    throw io;
                }
                throw e.getCause() instanceof RuntimeException r ? r : e;
            }
        }
        try {
            fetch.run();
            mine.complete(null);
        } catch (IOException | RuntimeException | Error e) {
            mine.completeExceptionally(e);
            throw e;
        } finally {
            fetching.remove(key, mine);
        }
    }

    /** How many trees this server fetched from the database into its cache. */
    int fetches() {
        return fetches.get();
    }

    @Override
    public boolean hasArchive(String artifact) {
        return blobs.has(artifact);
    }

    /** The cached archive, fetched from the database first when the cache lacks it (read to its end and checked). */
    @Override
    public Optional<InputStream> openArchive(String artifact) throws IOException {
        if (!blobs.has(artifact)) {
            return Optional.empty();
        }
        fetchOnce("archive:" + artifact, () -> {
            if (!local.hasArchive(artifact)) {
                try (InputStream in = blobs.open(artifact).orElseThrow(() -> new IOException(
                        "the archive sha256:" + artifact + " is no longer stored"))) {
                    cache.putArchive(artifact, in);
                }
            }
        });
        return local.openArchive(artifact);
    }

    @Override
    public long treeBytes(String contentDigest) {
        return storedTree(contentDigest).map(StoredTree::bytes).orElse(0L);
    }

    @Override
    public long archiveBytes(String artifact) {
        return blobs.size(artifact);
    }

    /**
     * Deletes the tree's row and blob from the database, in the caller's transaction (retention's,
     * which holds the tree's lock) or else in one of its own, and takes it out of this cache at
     * once; the returned removal frees the cached copy. Other servers' cached copies stay on their
     * disks, unserved: they ask the database first.
     */
    @Override
    public Removal removeTree(String contentDigest) throws IOException {
        boolean stored = db.inTransaction(h -> deleteTree(h, contentDigest, Long.MAX_VALUE));
        Removal cached = local.removeTree(contentDigest);
        if (cached != null) {
            return cached;
        }
        return stored ? () -> { } : null;
    }

    /**
     * Deletes the row of a tree stored before {@code cutoff}, and its blob unless another tree packs
     * to the same bytes or a deploy keeps that blob as its archive (a tenant can upload an archive
     * byte-identical to a packed tree).
     */
    private boolean deleteTree(Handle h, String contentDigest, long cutoff) {
        Optional<String> blob = h.createQuery("DELETE FROM stored_trees WHERE content_digest = :d "
                        + "AND stored_at < :cutoff RETURNING blob")
                .bind("d", contentDigest).bind("cutoff", cutoff).mapTo(String.class).findOne();
        if (blob.isEmpty()) {
            return false;
        }
        boolean kept = h.createQuery("SELECT EXISTS (SELECT 1 FROM stored_trees WHERE blob = :b) "
                        + "OR EXISTS (SELECT 1 FROM deploys WHERE artifact = :b)")
                .bind("b", blob.get()).mapTo(Boolean.class).one();
        if (!kept) {
            blobs.delete(h, blob.get());
        }
        return true;
    }

    @Override
    public void sweepUnreferenced(Instant storedBefore, Predicate<String> treeReferenced,
                                  Predicate<String> archiveReferenced) {
        long cutoff = storedBefore.toEpochMilli();
        List<String> trees = db.withHandle(h -> h.createQuery(
                        "SELECT content_digest FROM stored_trees WHERE stored_at < :cutoff")
                .bind("cutoff", cutoff).mapTo(String.class).list());
        for (String digest : trees) {
            if (!treeReferenced.test(digest) && db.inTransaction(h -> deleteTree(h, digest, cutoff))) {
                LOG.info("removed unreferenced tree {} from the database", digest);
            }
        }
        // Every blob no tree uses is an archive (or what is left of a tree).
        List<String> archives = db.withHandle(h -> h.createQuery("SELECT digest FROM blobs b WHERE stored_at < :cutoff "
                        + "AND NOT EXISTS (SELECT 1 FROM stored_trees t WHERE t.blob = b.digest)")
                .bind("cutoff", cutoff).mapTo(String.class).list());
        for (String artifact : archives) {
            if (!archiveReferenced.test(artifact) && db.inTransaction(h -> h.createUpdate(
                            "DELETE FROM blobs WHERE digest = :d AND stored_at < :cutoff AND NOT EXISTS "
                                    + "(SELECT 1 FROM stored_trees t WHERE t.blob = :d)")
                    .bind("d", artifact).bind("cutoff", cutoff).execute()) > 0) {
                LOG.info("removed unreferenced archive sha256:{} from the database", artifact);
            }
        }
        local.sweepUnreferenced(storedBefore, treeReferenced, archiveReferenced);
    }

    @Override
    public void sweepLeftovers() throws IOException {
        local.sweepLeftovers();
    }
}
