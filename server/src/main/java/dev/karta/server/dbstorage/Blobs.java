package dev.karta.server.dbstorage;

import dev.karta.server.store.Database;
import dev.karta.server.store.Digests;
import dev.karta.server.store.Threads;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.security.MessageDigest;
import java.time.Instant;
import java.util.Arrays;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.regex.Pattern;
import org.jdbi.v3.core.Handle;

/**
 * Content-addressed blobs in the database: an immutable byte string named by the sha256 (hex) of
 * its bytes, stored once however many releases share it, as rows of {@link #CHUNK_BYTES} in
 * {@code blob_chunks} under one row in {@code blobs}.
 *
 * <p>A blob's row is inserted first and its chunks after it, in one transaction: until that
 * commits nobody sees any of it, and a write that fails halfway (or a server that dies) leaves
 * nothing. Writing a blob that is stored already does nothing; two writers of one digest meet on
 * the row's primary key, and the second waits for the first and then does nothing. A write
 * holds one chunk in memory, a read two (the one read and the next). A read checks the sha256 of
 * what it returned when it reaches the end, and fails ({@link Corrupt}, naming the digest) instead
 * of ending normally when the bytes are not the blob's: a reader must read to the end before it
 * trusts anything it read.
 */
final class Blobs {
    /** The size of a chunk row: small enough for one row and one buffer, large enough for few queries. */
    static final int CHUNK_BYTES = 1 << 20;
    private static final Pattern SHA256_HEX = Pattern.compile("[0-9a-f]{64}");

    /** Fetches blob chunks ahead of their readers; idle threads end after a minute. */
    private static final ExecutorService READ_AHEAD = Executors.newCachedThreadPool(Threads.daemon("blob-read-ahead"));

    private final Database db;
    private final int chunkBytes;

    Blobs(Database db) {
        this(db, CHUNK_BYTES);
    }

    /** With another chunk size, for tests of many chunks; blobs already stored keep their own. */
    Blobs(Database db, int chunkBytes) {
        if (chunkBytes <= 0) {
            throw new IllegalArgumentException("chunk size must be positive");
        }
        this.db = db;
        this.chunkBytes = chunkBytes;
    }

    /** A stored blob: its digest (sha256 hex), size and when it was stored. */
    record Stored(String digest, long bytes, Instant storedAt) {
    }

    /** Writes a blob's bytes into the stream it is given; may be called once, or not at all. */
    @FunctionalInterface
    interface Body {
        void writeTo(OutputStream out) throws IOException;
    }

    /** What a read found instead of the blob's bytes. */
    static final class Corrupt extends IOException {
        Corrupt(String message) {
            super(message);
        }
    }

    /**
     * Stores the bytes {@code body} writes as the blob {@code sha256}, in a transaction of its own
     * or, when this thread is inside one of {@link Database#inTransaction} already, in that one
     * (Jdbi shares a thread's handle), which then commits it or not. Returns false, without calling
     * {@code body}, when the blob is stored already. Bytes whose sha256 is not {@code sha256} are
     * refused with a {@link Corrupt}; a failure of any kind stores nothing.
     */
    boolean write(String sha256, Body body) throws IOException {
        return db.inTransaction(h -> write(h, sha256, body));
    }

    /** {@link #write(String, Body)} inside the caller's transaction, which commits it or not. */
    boolean write(Handle h, String sha256, Body body) throws IOException {
        check(sha256);
        int inserted = h.createUpdate("INSERT INTO blobs (digest, bytes, chunk_bytes, stored_at) "
                        + "VALUES (:d, 0, :c, :now) ON CONFLICT (digest) DO NOTHING")
                .bind("d", sha256).bind("c", chunkBytes).bind("now", System.currentTimeMillis()).execute();
        if (inserted == 0) {
            return false;
        }
        Chunker out = new Chunker(h, sha256);
        body.writeTo(out);
        out.close();
        String actual = Digests.hex(out.sha.digest());
        if (!actual.equals(sha256)) {
            throw new Corrupt("refused to store blob sha256:" + sha256 + ": the bytes written hash to sha256:" + actual);
        }
        out.finish();
        return true;
    }

    /**
     * Inserts a chunk row each time {@code chunkBytes} have been written; the rest, once its digest
     * is checked, goes in with the blob's size in one statement ({@link #finish}): a blob of one
     * chunk, as most are, takes two round trips in all.
     */
    private final class Chunker extends OutputStream {
        private final Handle h;
        private final String digest;
        private final byte[] buffer = new byte[chunkBytes];
        private final MessageDigest sha = Digests.sha256();
        private int filled;
        private int seq;
        private long total;
        private boolean closed;

        Chunker(Handle h, String digest) {
            this.h = h;
            this.digest = digest;
        }

        @Override
        public void write(int b) {
            write(new byte[] {(byte) b}, 0, 1);
        }

        @Override
        public void write(byte[] b, int off, int len) {
            if (closed) {
                throw new IllegalStateException("blob sha256:" + digest + " is written already");
            }
            while (len > 0) {
                int n = Math.min(len, buffer.length - filled);
                System.arraycopy(b, off, buffer, filled, n);
                filled += n;
                off += n;
                len -= n;
                if (filled == buffer.length) {
                    flushChunk();
                }
            }
        }

        private void flushChunk() {
            h.createUpdate("INSERT INTO blob_chunks (digest, seq, data) VALUES (:d, :s, :data)")
                    .bind("d", digest).bind("s", seq++).bind("data", buffer).execute();
            sha.update(buffer, 0, filled);
            total += filled;
            filled = 0;
        }

        /** Takes the bytes not yet stored into the digest; {@link #finish} stores them. */
        @Override
        public void close() {
            if (!closed) {
                sha.update(buffer, 0, filled);
                total += filled;
                closed = true;
            }
        }

        /** Stores the last chunk, if any, and the blob's size: one statement. */
        void finish() {
            if (filled == 0) {
                h.createUpdate("UPDATE blobs SET bytes = :b WHERE digest = :d").bind("b", total).bind("d", digest)
                        .execute();
                return;
            }
            h.createUpdate("WITH chunk AS (INSERT INTO blob_chunks (digest, seq, data) VALUES (:d, :s, :data)) "
                            + "UPDATE blobs SET bytes = :b WHERE digest = :d")
                    .bind("d", digest).bind("s", seq).bind("data", Arrays.copyOf(buffer, filled)).bind("b", total)
                    .execute();
        }
    }

    Optional<Stored> find(String sha256) {
        if (!SHA256_HEX.matcher(sha256).matches()) {
            return Optional.empty();
        }
        return db.withHandle(h -> h.createQuery("SELECT digest, bytes, stored_at FROM blobs WHERE digest = :d")
                .bind("d", sha256)
                .map((rs, ctx) -> new Stored(rs.getString("digest"), rs.getLong("bytes"),
                        Instant.ofEpochMilli(rs.getLong("stored_at"))))
                .findOne());
    }

    boolean has(String sha256) {
        return find(sha256).isPresent();
    }

    /** The blob's size in bytes; 0 when it is not stored. */
    long size(String sha256) {
        return find(sha256).map(Stored::bytes).orElse(0L);
    }

    /**
     * Reads a stored blob chunk by chunk, each chunk in a short query of its own (no connection is
     * held between reads), or empty when it is not stored. The stream fails with a {@link Corrupt}
     * at its end when the bytes are not the blob's, and with an {@link IOException} when the blob
     * is deleted while it is read.
     */
    Optional<InputStream> open(String sha256) {
        record Head(long bytes, int chunkBytes) {
        }
        if (!SHA256_HEX.matcher(sha256).matches()) {
            return Optional.empty();
        }
        return db.withHandle(h -> h.createQuery("SELECT bytes, chunk_bytes FROM blobs WHERE digest = :d")
                        .bind("d", sha256).map((rs, ctx) -> new Head(rs.getLong("bytes"), rs.getInt("chunk_bytes")))
                        .findOne())
                .map(head -> new Reader(sha256, head.bytes(), head.chunkBytes()));
    }

    /** Deletes a blob inside the caller's transaction; returns whether it was stored. */
    boolean delete(Handle h, String sha256) {
        return h.createUpdate("DELETE FROM blobs WHERE digest = :d").bind("d", sha256).execute() > 0;
    }

    private static void check(String sha256) {
        if (sha256 == null || !SHA256_HEX.matcher(sha256).matches()) {
            throw new IllegalArgumentException("a blob is named by a sha256 in lowercase hex, got '" + sha256 + "'");
        }
    }

    /**
     * The bytes of one blob, fetched a chunk at a time and checked at the end. The next chunk is
     * fetched (and hashed) on a {@link #READ_AHEAD} thread while the caller consumes this one, so
     * the database's latency overlaps the caller's work; chunks are fetched one after another, in
     * order, and at most two are held at a time.
     */
    private final class Reader extends InputStream {
        private final String digest;
        private final long bytes;
        private final int chunks;
        private final MessageDigest sha = Digests.sha256();
        private byte[] chunk = new byte[0];
        private int pos;
        /** The next chunk to hand out, fetched or being fetched; null after the last one. */
        private CompletableFuture<byte[]> next;
        private int nextSeq;
        private long fetched;
        private boolean verified;

        Reader(String digest, long bytes, int chunkBytes) {
            this.digest = digest;
            this.bytes = bytes;
            this.chunks = (int) ((bytes + chunkBytes - 1) / chunkBytes);
            this.next = chunks == 0 ? null : fetchAhead(CompletableFuture.completedFuture(null));
        }

        @Override
        public int read() throws IOException {
            byte[] one = new byte[1];
            int n = read(one, 0, 1);
            return n < 0 ? -1 : one[0] & 0xff;
        }

        @Override
        public int read(byte[] b, int off, int len) throws IOException {
            if (len == 0) {
                return 0;
            }
            while (pos == chunk.length) {
                if (next == null) {
                    verify();
                    return -1;
                }
                take();
            }
            int n = Math.min(len, chunk.length - pos);
            System.arraycopy(chunk, pos, b, off, n);
            pos += n;
            return n;
        }

        /** Makes the chunk fetched ahead the current one and starts fetching the one after it. */
        private void take() throws IOException {
            CompletableFuture<byte[]> taken = next;
            try {
                chunk = taken.join();
            } catch (CompletionException e) {
                next = null;
                if (e.getCause() instanceof IOException io) {
                    throw io;
                }
                throw e.getCause() instanceof RuntimeException r ? r : e;
            }
            pos = 0;
            next = nextSeq < chunks ? fetchAhead(taken) : null;
        }

        /** Fetches chunk {@link #nextSeq} once {@code after} (the previous fetch) is done. */
        private CompletableFuture<byte[]> fetchAhead(CompletableFuture<?> after) {
            int wanted = nextSeq++;
            return after.thenApplyAsync(previous -> {
                try {
                    return fetch(wanted);
                } catch (IOException e) {
                    throw new CompletionException(e);
                }
            }, READ_AHEAD);
        }

        /** One chunk from the database, hashed in order (fetches never overlap). */
        private byte[] fetch(int wanted) throws IOException {
            Optional<byte[]> data = db.withHandle(h -> h.createQuery(
                            "SELECT data FROM blob_chunks WHERE digest = :d AND seq = :s")
                    .bind("d", digest).bind("s", wanted).mapTo(byte[].class).findOne());
            if (data.isEmpty()) {
                throw new IOException("blob sha256:" + digest + " has no chunk " + wanted + " of " + chunks
                        + " (deleted while it was read?)");
            }
            byte[] bytesOfChunk = data.get();
            fetched += bytesOfChunk.length;
            sha.update(bytesOfChunk);
            if (fetched > bytes) {
                throw new Corrupt("blob sha256:" + digest + " is corrupt: its chunks hold more than its "
                        + bytes + " bytes");
            }
            return bytesOfChunk;
        }

        private void verify() throws Corrupt {
            if (verified) {
                return;
            }
            String actual = Digests.hex(sha.digest());
            if (fetched != bytes || !actual.equals(digest)) {
                throw new Corrupt("blob sha256:" + digest + " is corrupt: its " + fetched + " bytes (of " + bytes
                        + ") hash to sha256:" + actual);
            }
            verified = true;
        }
    }
}
