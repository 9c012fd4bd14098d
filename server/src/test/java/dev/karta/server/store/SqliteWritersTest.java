package dev.karta.server.store;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.karta.server.Config;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * How this server writes to SQLite: its writers queue in the JVM and take the write lock in
 * arrival order, the moment it is free (not when SQLite's busy handler next wakes up), and the
 * write-ahead log is checkpointed in the background rather than by the commit that fills it.
 */
class SqliteWritersTest {
    private static final Duration PATIENCE = Duration.ofSeconds(10);

    @TempDir
    Path dir;

    @Test
    void waiting_writers_take_their_turn_in_arrival_order_and_single_statements_queue_too() throws Exception {
        try (Database db = Database.open(Config.sqliteUrl(dir))) {
            db.execute("CREATE TABLE turns (seq INTEGER PRIMARY KEY AUTOINCREMENT, writer INTEGER NOT NULL)");
            CountDownLatch inside = new CountDownLatch(1);
            CountDownLatch finish = new CountDownLatch(1);
            Thread holder = new Thread(() -> db.inTransaction(h -> {
                h.execute("INSERT INTO turns (writer) VALUES (0)");
                inside.countDown();
                try {
                    return finish.await(30, TimeUnit.SECONDS);
                } catch (InterruptedException e) {
                    throw new IllegalStateException(e);
                }
            }));
            holder.start();
            assertThat(inside.await(10, TimeUnit.SECONDS)).isTrue();

            List<Thread> waiting = new ArrayList<>();
            for (int i = 1; i <= 5; i++) {
                int writer = i;
                Thread t = new Thread(writer == 3
                        ? () -> db.execute("INSERT INTO turns (writer) VALUES (?)", writer)
                        : () -> db.inTransaction(h -> h.execute("INSERT INTO turns (writer) VALUES (?)", writer)));
                t.start();
                // Parked in the queue, not polling SQLite's lock (a busy handler's sleep is RUNNABLE in native code).
                await().atMost(PATIENCE).until(() -> t.getState() == Thread.State.TIMED_WAITING);
                waiting.add(t);
            }
            finish.countDown();
            holder.join();
            for (Thread t : waiting) {
                t.join();
            }

            List<Integer> order = db.withHandle(h -> h.createQuery("SELECT writer FROM turns ORDER BY seq")
                    .mapTo(Integer.class).list());
            assertThat(order).containsExactly(0, 1, 2, 3, 4, 5);
        }
    }

    @Test
    void commits_leave_checkpoints_to_the_background() throws Exception {
        Path file = dir.resolve("karta.db");
        try (Database db = Database.open("jdbc:sqlite:" + file)) {
            int autocheckpoint = db.withHandle(h -> h.createQuery("PRAGMA wal_autocheckpoint").mapTo(Integer.class).one());
            assertThat(autocheckpoint).as("pages after which a commit checkpoints by itself").isZero();
            assertThat(Files.size(file)).isLessThan(1 << 20);

            db.execute("CREATE TABLE filler (data BLOB NOT NULL)");
            db.inTransaction(h -> h.execute("WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 2048) "
                    + "INSERT INTO filler (data) SELECT randomblob(1024) FROM n"));

            // Pages reach the database file only by a checkpoint; the commit left them in the log.
            await().atMost(PATIENCE).until(() -> Files.size(file) >= 2 << 20);
        }
    }
}
