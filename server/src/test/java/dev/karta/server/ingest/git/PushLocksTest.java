package dev.karta.server.ingest.git;

import static org.assertj.core.api.Assertions.assertThat;

import dev.karta.server.store.Database;
import dev.karta.server.store.ProjectLocks;
import dev.karta.server.testkit.PostgresDatabase;
import dev.karta.server.testkit.PostgresExtension;
import java.sql.Connection;
import java.sql.SQLException;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * The push lock on PostgreSQL as another replica sees it: held from lock to unlock, free after,
 * also while this server keeps the lock's connection open for its next push.
 */
@ExtendWith(PostgresExtension.class)
class PushLocksTest {
    private Database db;
    private Connection otherReplica;

    @BeforeEach
    void open(PostgresDatabase postgres) throws SQLException {
        db = Database.open(postgres.url());
        otherReplica = db.openUnpooled();
    }

    @AfterEach
    void close() throws SQLException {
        otherReplica.close();
        db.close();
    }

    @Test
    void a_released_push_lock_is_free_for_another_replica_though_its_connection_is_kept_for_the_next_push()
            throws Exception {
        PushLocks locks = new PushLocks(db);
        for (int push = 0; push < 3; push++) {
            locks.lock("prj_a", () -> { });
            assertThat(ProjectLocks.tryLock(otherReplica, "prj_a")).as("held during push %d", push).isFalse();

            locks.unlockIfHeld("prj_a");

            assertThat(ProjectLocks.tryLock(otherReplica, "prj_a")).as("free after push %d", push).isTrue();
            ProjectLocks.releaseAll(otherReplica);
        }
    }
}
