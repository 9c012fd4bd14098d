package dev.karta.server.workspaces;

import dev.karta.server.store.Database;
import java.util.Optional;

/**
 * SQL of the {@code session_state} table: per session, the last saved harness state (its HOME as
 * a compressed tar) and that blob's digest. One row per session, replaced on every save; it goes
 * when the session ends, and with the session row.
 */
final class SessionStateStore {
    private final Database db;

    SessionStateStore(Database db) {
        this.db = db;
    }

    /** The digest of the session's saved state, if it has one: a cheap look before each turn. */
    Optional<String> digest(String sessionId) {
        return db.withHandle(h -> h.createQuery("SELECT digest FROM session_state WHERE session_id = :s")
                .bind("s", sessionId).mapTo(String.class).findOne());
    }

    /** The session's saved state, if it has one. */
    Optional<byte[]> data(String sessionId) {
        return db.withHandle(h -> h.createQuery("SELECT data FROM session_state WHERE session_id = :s")
                .bind("s", sessionId).mapTo(byte[].class).findOne());
    }

    /**
     * Saves (or replaces) the session's state; false when the session is gone (its project was
     * deleted meanwhile) or has ended, whose state is not kept.
     */
    boolean save(String sessionId, String digest, byte[] data, long now) {
        return db.inTransaction(h -> {
            boolean live = h.createQuery("SELECT COUNT(*) FROM sessions WHERE id = :s AND status <> 'ended'")
                    .bind("s", sessionId).mapTo(Integer.class).one() == 1;
            if (!live) {
                return false;
            }
            h.createUpdate("""
                            INSERT INTO session_state (session_id, digest, bytes, data, saved_at)
                            VALUES (:s, :digest, :bytes, :data, :now)
                            ON CONFLICT (session_id) DO UPDATE
                            SET digest = excluded.digest, bytes = excluded.bytes, data = excluded.data,
                                saved_at = excluded.saved_at
                            """)
                    .bind("s", sessionId).bind("digest", digest).bind("bytes", (long) data.length).bind("data", data)
                    .bind("now", now)
                    .execute();
            return true;
        });
    }

    /** Forgets the session's state; nothing to forget is fine. */
    void delete(String sessionId) {
        db.inTransaction(h -> h.createUpdate("DELETE FROM session_state WHERE session_id = :s")
                .bind("s", sessionId).execute());
    }

    /** Forgets the state of every ended session (ended by another server, or while its turn ran). */
    int deleteEnded() {
        return db.inTransaction(h -> h.createUpdate("""
                        DELETE FROM session_state
                        WHERE EXISTS (SELECT 1 FROM sessions s
                                      WHERE s.id = session_state.session_id AND s.status = 'ended')
                        """)
                .execute());
    }
}
