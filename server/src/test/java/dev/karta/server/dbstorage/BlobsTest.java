package dev.karta.server.dbstorage;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.karta.server.store.Database;
import dev.karta.server.store.Digests;
import dev.karta.server.testkit.PostgresDatabase;
import dev.karta.server.testkit.PostgresExtension;
import java.io.IOException;
import java.io.InputStream;
import java.time.Instant;
import java.util.Random;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/** Content-addressed blobs in PostgreSQL, with chunks of 1,000 bytes so that small blobs have many. */
@ExtendWith(PostgresExtension.class)
class BlobsTest {
    private static final int CHUNK = 1000;

    private String url;
    private Database db;
    private Blobs blobs;

    @BeforeEach
    void open(PostgresDatabase postgres) {
        url = postgres.url();
        db = Database.open(url);
        blobs = new Blobs(db, CHUNK);
    }

    @AfterEach
    void close() {
        db.close();
    }

    @Test
    void a_blob_of_many_chunks_reads_back_whole_with_its_size_and_time() throws IOException {
        byte[] data = random(10 * CHUNK + 321);
        String digest = Digests.sha256Hex(data);
        Instant before = Instant.now().minusMillis(1);

        assertThat(blobs.write(digest, out -> out.write(data))).isTrue();

        assertThat(chunks(digest)).isEqualTo(11);
        assertThat(blobs.size(digest)).isEqualTo(data.length);
        assertThat(blobs.find(digest).orElseThrow().storedAt()).isBetween(before, Instant.now());
        try (InputStream in = blobs.open(digest).orElseThrow()) {
            assertThat(in.readAllBytes()).isEqualTo(data);
        }
    }

    @Test
    void an_empty_blob_and_one_of_exactly_one_chunk_round_trip() throws IOException {
        for (byte[] data : new byte[][] {new byte[0], random(CHUNK)}) {
            String digest = Digests.sha256Hex(data);
            blobs.write(digest, out -> out.write(data));
            try (InputStream in = blobs.open(digest).orElseThrow()) {
                assertThat(in.readAllBytes()).isEqualTo(data);
            }
        }
    }

    @Test
    void writing_a_stored_blob_again_stores_nothing_and_does_not_even_ask_for_its_bytes() throws IOException {
        byte[] data = random(3 * CHUNK);
        String digest = Digests.sha256Hex(data);
        blobs.write(digest, out -> out.write(data));
        Instant stored = blobs.find(digest).orElseThrow().storedAt();
        AtomicInteger asked = new AtomicInteger();

        assertThat(blobs.write(digest, out -> {
            asked.incrementAndGet();
            out.write(data);
        })).isFalse();

        assertThat(asked).hasValue(0);
        assertThat(chunks(digest)).isEqualTo(3);
        assertThat(count("SELECT COUNT(*) FROM blobs")).isEqualTo(1);
        assertThat(blobs.find(digest).orElseThrow().storedAt()).isEqualTo(stored);
    }

    @Test
    void a_chunk_corrupted_in_the_database_makes_the_read_fail_naming_the_digest() throws IOException {
        byte[] data = random(5 * CHUNK);
        String digest = Digests.sha256Hex(data);
        blobs.write(digest, out -> out.write(data));
        byte[] tampered = random(CHUNK);
        db.execute("UPDATE blob_chunks SET data = ? WHERE digest = ? AND seq = 2", tampered, digest);

        try (InputStream in = blobs.open(digest).orElseThrow()) {
            assertThatThrownBy(in::readAllBytes).isInstanceOf(Blobs.Corrupt.class).hasMessageContaining(digest);
        }
    }

    @Test
    void a_missing_chunk_fails_the_read() throws IOException {
        byte[] data = random(4 * CHUNK);
        String digest = Digests.sha256Hex(data);
        blobs.write(digest, out -> out.write(data));
        db.execute("DELETE FROM blob_chunks WHERE digest = ? AND seq = 3", digest);

        try (InputStream in = blobs.open(digest).orElseThrow()) {
            assertThatThrownBy(in::readAllBytes).isInstanceOf(IOException.class).hasMessageContaining(digest);
        }
    }

    @Test
    void a_write_that_fails_midway_leaves_nothing_and_a_later_write_succeeds() throws IOException {
        byte[] data = random(5 * CHUNK);
        String digest = Digests.sha256Hex(data);

        assertThatThrownBy(() -> blobs.write(digest, out -> {
            out.write(data, 0, 2 * CHUNK + 500); // two chunk rows inserted already
            throw new IOException("the source broke");
        })).hasMessage("the source broke");

        assertThat(blobs.has(digest)).isFalse();
        assertThat(blobs.open(digest)).isEmpty();
        assertThat(count("SELECT COUNT(*) FROM blobs")).isZero();
        assertThat(count("SELECT COUNT(*) FROM blob_chunks")).isZero();
        assertThat(blobs.write(digest, out -> out.write(data))).isTrue();
        assertThat(chunks(digest)).isEqualTo(5);
    }

    @Test
    void bytes_that_are_not_the_named_blob_are_refused_and_leave_nothing() {
        byte[] data = random(2 * CHUNK);
        String claimed = Digests.sha256Hex("something else");

        assertThatThrownBy(() -> blobs.write(claimed, out -> out.write(data)))
                .isInstanceOf(Blobs.Corrupt.class).hasMessageContaining(claimed);

        assertThat(count("SELECT COUNT(*) FROM blobs")).isZero();
        assertThat(count("SELECT COUNT(*) FROM blob_chunks")).isZero();
    }

    @Test
    void a_blob_being_written_is_invisible_to_other_connections_until_its_transaction_commits() throws IOException {
        byte[] data = random(3 * CHUNK);
        String digest = Digests.sha256Hex(data);
        boolean[] seenWhileWriting = {true};

        try (Database other = Database.open(url)) {
            Blobs elsewhere = new Blobs(other, CHUNK);
            blobs.write(digest, out -> {
                out.write(data, 0, 2 * CHUNK);
                seenWhileWriting[0] = elsewhere.has(digest) || other.withHandle(h -> h.createQuery(
                        "SELECT COUNT(*) FROM blob_chunks").mapTo(Long.class).one()) > 0;
                out.write(data, 2 * CHUNK, CHUNK);
            });

            assertThat(seenWhileWriting[0]).isFalse();
            assertThat(elsewhere.has(digest)).isTrue();
        }
    }

    @Test
    void a_blob_written_inside_a_callers_transaction_that_rolls_back_is_not_stored() {
        byte[] data = random(2 * CHUNK);
        String digest = Digests.sha256Hex(data);

        assertThatThrownBy(() -> db.inTransaction(h -> {
            blobs.write(digest, out -> out.write(data)); // as an upload's keep() inside the ingest's transaction
            throw new IllegalStateException("the ingest was refused");
        })).hasMessage("the ingest was refused");

        assertThat(blobs.has(digest)).isFalse();
        assertThat(count("SELECT COUNT(*) FROM blob_chunks")).isZero();
    }

    @Test
    void a_deleted_blob_takes_its_chunks_with_it() throws IOException {
        byte[] data = random(3 * CHUNK);
        String digest = Digests.sha256Hex(data);
        blobs.write(digest, out -> out.write(data));

        assertThat(db.<Boolean, RuntimeException>inTransaction(h -> blobs.delete(h, digest))).isTrue();

        assertThat(blobs.has(digest)).isFalse();
        assertThat(blobs.size(digest)).isZero();
        assertThat(chunks(digest)).isZero();
        assertThat(db.<Boolean, RuntimeException>inTransaction(h -> blobs.delete(h, digest))).isFalse();
    }

    @Test
    void names_that_are_no_sha256_are_refused_or_not_found() {
        assertThatThrownBy(() -> blobs.write("../etc", out -> { })).isInstanceOf(IllegalArgumentException.class);
        assertThat(blobs.open("ABC")).isEmpty();
        assertThat(blobs.has("")).isFalse();
    }

    private long chunks(String digest) {
        return db.withHandle(h -> h.createQuery("SELECT COUNT(*) FROM blob_chunks WHERE digest = :d")
                .bind("d", digest).mapTo(Long.class).one());
    }

    private long count(String sql) {
        return db.withHandle(h -> h.createQuery(sql).mapTo(Long.class).one());
    }

    private static byte[] random(int size) {
        byte[] data = new byte[size];
        new Random(size).nextBytes(data);
        return data;
    }

}
