package dev.karta.server.dbstorage;

import dev.karta.server.store.Database;
import dev.karta.server.store.Dialect;
import java.io.IOException;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import org.jdbi.v3.core.Handle;

/**
 * The SQL of git repositories in the database (tables {@code git_repositories},
 * {@code git_packs}, {@code git_pack_files}, {@code git_pack_chunks}). Pack files are immutable
 * once written: a file is a row of its own (size -1 while being written) and numbered chunks of
 * {@link #CHUNK_BYTES}. A pack joins its repository's list only in {@link #commit}, which runs in
 * one transaction holding the repository row's lock.
 */
final class GitPackStore {
    /** Bytes per chunk row; also the block size JGit reads pack files in. */
    static final int CHUNK_BYTES = 256 * 1024;

    /** SQL: the pack row has a {@code .pack} file (extensions is a comma-separated list). */
    private static final String HAS_PACK = "',' || extensions || ',' LIKE '%,pack,%'";
    /** SQL: the pack row has a reftable. */
    private static final String HAS_REFTABLE = "',' || extensions || ',' LIKE '%,ref,%'";

    private final Database db;

    GitPackStore(Database db) {
        this.db = db;
    }

    /** A repository row: its id names it in the pack tables and in JGit's block cache. */
    record RepoRow(long id, String projectId, String name) {
    }

    /** A listed pack, as {@link #listPacks} reads it. */
    record PackRow(String name, String source, Set<String> extensions, Map<String, Long> sizes, long objectCount,
                   long deltaCount, int indexVersion, long minUpdateIndex, long maxUpdateIndex, long lastModified) {
    }

    /** Thrown by {@link #commit} when the list is no longer the one the commit was based on. */
    static final class ListChanged extends IOException {
        ListChanged(String message) {
            super(message);
        }
    }

    /** The repository's row, inserted on first use (concurrent first uses agree on one row). */
    RepoRow ensure(String projectId, String name) {
        return db.inTransaction(h -> {
            h.execute("INSERT INTO git_repositories (project_id, name, created_at) VALUES (?, ?, ?) "
                    + "ON CONFLICT (project_id, name) DO NOTHING", projectId, name, System.currentTimeMillis());
            return find(h, projectId, name).orElseThrow();
        });
    }

    Optional<RepoRow> find(String projectId, String name) {
        return db.withHandle(h -> find(h, projectId, name));
    }

    Optional<RepoRow> byId(long id) {
        return db.withHandle(h -> h.createQuery("SELECT id, project_id, name FROM git_repositories WHERE id = :id")
                .bind("id", id)
                .map((rs, ctx) -> new RepoRow(rs.getLong("id"), rs.getString("project_id"), rs.getString("name")))
                .findOne());
    }

    private static Optional<RepoRow> find(Handle h, String projectId, String name) {
        return h.createQuery("SELECT id, project_id, name FROM git_repositories WHERE project_id = :p AND name = :n")
                .bind("p", projectId)
                .bind("n", name)
                .map((rs, ctx) -> new RepoRow(rs.getLong("id"), rs.getString("project_id"), rs.getString("name")))
                .findOne();
    }

    /** Deletes repository {@code name} of a project, or every one whose name starts with {@code prefix}. */
    int delete(String projectId, String name, boolean prefix) {
        if (!prefix) {
            return db.execute("DELETE FROM git_repositories WHERE project_id = ? AND name = ?", projectId, name);
        }
        String like = name.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%";
        return db.execute("DELETE FROM git_repositories WHERE project_id = ? AND name LIKE ? ESCAPE '\\'",
                projectId, like);
    }

    /** The repository's listed packs with their files' sizes. */
    List<PackRow> listPacks(long repoId) {
        // One query (one round trip, one snapshot): a row per finished file of each listed pack, or
        // one row with no file for a pack without any yet.
        return db.withHandle(h -> {
            Map<String, PackRow> packs = new LinkedHashMap<>();
            h.createQuery("""
                            SELECT p.*, f.ext AS file_ext, f.size AS file_size FROM git_packs p
                            LEFT JOIN git_pack_files f ON f.repository_id = p.repository_id AND f.pack_name = p.name
                                AND f.size >= 0
                            WHERE p.repository_id = :r AND p.dropped_at IS NULL
                            """)
                    .bind("r", repoId)
                    .map((rs, ctx) -> {
                        String name = rs.getString("name");
                        PackRow pack = packs.get(name);
                        if (pack == null) {
                            Set<String> extensions = new HashSet<>(List.of(rs.getString("extensions").split(",")));
                            extensions.remove("");
                            pack = new PackRow(name, rs.getString("source"), extensions, new HashMap<>(),
                                    rs.getLong("object_count"), rs.getLong("delta_count"), rs.getInt("index_version"),
                                    rs.getLong("min_update_index"), rs.getLong("max_update_index"),
                                    rs.getLong("last_modified"));
                            packs.put(name, pack);
                        }
                        String ext = rs.getString("file_ext");
                        if (ext != null) {
                            pack.sizes().put(ext, rs.getLong("file_size"));
                        }
                        return null;
                    })
                    .list();
            return List.copyOf(packs.values());
        });
    }

    /** How many listed packs of the repository hold objects (a {@code .pack} file). */
    int objectPacks(long repoId) {
        return db.withHandle(h -> h.createQuery("SELECT COUNT(*) FROM git_packs WHERE repository_id = :r "
                        + "AND dropped_at IS NULL AND " + HAS_PACK)
                .bind("r", repoId)
                .mapTo(Integer.class)
                .one());
    }

    /** Repositories with more than {@code packs} listed object packs. */
    List<Long> needingCompaction(int packs) {
        return db.withHandle(h -> h.createQuery("""
                        SELECT repository_id FROM git_packs
                        WHERE dropped_at IS NULL AND %s
                        GROUP BY repository_id HAVING COUNT(*) > :n
                        """.formatted(HAS_PACK))
                .bind("n", packs)
                .mapTo(Long.class)
                .list());
    }

    // ---- files ----

    void beginFile(long repoId, String pack, String ext) {
        db.execute("INSERT INTO git_pack_files (repository_id, pack_name, ext, size, created_at) VALUES (?, ?, ?, -1, ?)",
                repoId, pack, ext, System.currentTimeMillis());
    }

    void writeChunk(long repoId, String pack, String ext, int seq, byte[] data) {
        db.execute("INSERT INTO git_pack_chunks (repository_id, pack_name, ext, seq, data) VALUES (?, ?, ?, ?, ?)",
                repoId, pack, ext, seq, data);
    }

    void finishFile(long repoId, String pack, String ext, long size) {
        db.execute("UPDATE git_pack_files SET size = ? WHERE repository_id = ? AND pack_name = ? AND ext = ?",
                size, repoId, pack, ext);
    }

    /**
     * Stores a whole file that fits in one chunk, finished, at once: what {@link #beginFile}, one
     * {@link #writeChunk} and {@link #finishFile} would store, in one statement on PostgreSQL (one
     * round trip; most files of a push are this small) and one transaction on SQLite.
     */
    void writeWholeFile(long repoId, String pack, String ext, byte[] data) {
        long now = System.currentTimeMillis();
        if (data.length == 0) {
            db.execute("INSERT INTO git_pack_files (repository_id, pack_name, ext, size, created_at) VALUES (?, ?, ?, 0, ?)",
                    repoId, pack, ext, now);
        } else if (db.dialect() == Dialect.POSTGRES) {
            db.execute("WITH f AS (INSERT INTO git_pack_files (repository_id, pack_name, ext, size, created_at) "
                            + "VALUES (?, ?, ?, ?, ?)) "
                            + "INSERT INTO git_pack_chunks (repository_id, pack_name, ext, seq, data) VALUES (?, ?, ?, 0, ?)",
                    repoId, pack, ext, (long) data.length, now, repoId, pack, ext, data);
        } else {
            db.inTransaction(h -> {
                h.execute("INSERT INTO git_pack_files (repository_id, pack_name, ext, size, created_at) "
                        + "VALUES (?, ?, ?, ?, ?)", repoId, pack, ext, (long) data.length, now);
                h.execute("INSERT INTO git_pack_chunks (repository_id, pack_name, ext, seq, data) VALUES (?, ?, ?, 0, ?)",
                        repoId, pack, ext, data);
                return null;
            });
        }
    }

    /** The size of a finished file, or -1 when there is no such file (or it is still being written). */
    long fileSize(long repoId, String pack, String ext) {
        return db.withHandle(h -> h.createQuery("SELECT size FROM git_pack_files WHERE repository_id = :r "
                        + "AND pack_name = :p AND ext = :e")
                .bind("r", repoId).bind("p", pack).bind("e", ext)
                .mapTo(Long.class)
                .findOne()
                .orElse(-1L));
    }

    /** A finished file's size, and its bytes when it fits in its first chunk (else null: read by chunk). */
    record FileHead(long size, byte[] whole) {
    }

    /**
     * A finished file's head, empty when there is no such file (or it is still being written): a
     * file of one chunk, as reftables and the indexes of small packs are, comes whole in the same
     * round trip.
     */
    Optional<FileHead> openFile(long repoId, String pack, String ext) {
        return db.withHandle(h -> h.createQuery("""
                        SELECT f.size, CASE WHEN f.size BETWEEN 1 AND :chunk THEN c.data END AS whole
                        FROM git_pack_files f
                        LEFT JOIN git_pack_chunks c ON c.repository_id = f.repository_id AND c.pack_name = f.pack_name
                            AND c.ext = f.ext AND c.seq = 0
                        WHERE f.repository_id = :r AND f.pack_name = :p AND f.ext = :e AND f.size >= 0
                        """)
                .bind("chunk", CHUNK_BYTES).bind("r", repoId).bind("p", pack).bind("e", ext)
                .map((rs, ctx) -> new FileHead(rs.getLong("size"), rs.getBytes("whole")))
                .findOne());
    }

    /** Chunk {@code seq} of a file, or null when it is missing. */
    byte[] readChunk(long repoId, String pack, String ext, int seq) {
        return db.withHandle(h -> h.createQuery("SELECT data FROM git_pack_chunks WHERE repository_id = :r "
                        + "AND pack_name = :p AND ext = :e AND seq = :s")
                .bind("r", repoId).bind("p", pack).bind("e", ext).bind("s", seq)
                .mapTo(byte[].class)
                .findOne()
                .orElse(null));
    }

    /** Deletes the files of packs that were never committed (a failed write or a rolled-back pack). */
    void deleteUncommitted(long repoId, Collection<String> packs) {
        db.inTransaction(h -> {
            for (String pack : packs) {
                if (h.createQuery("SELECT COUNT(*) FROM git_packs WHERE repository_id = :r AND name = :p")
                        .bind("r", repoId).bind("p", pack).mapTo(Integer.class).one() == 0) {
                    deleteFiles(h, repoId, pack);
                }
            }
            return null;
        });
    }

    private static void deleteFiles(Handle h, long repoId, String pack) {
        h.execute("DELETE FROM git_pack_chunks WHERE repository_id = ? AND pack_name = ?", repoId, pack);
        h.execute("DELETE FROM git_pack_files WHERE repository_id = ? AND pack_name = ?", repoId, pack);
    }

    // ---- the pack list ----

    /**
     * Commits a change of the pack list in one transaction on the locked repository row (the
     * compare-and-swap of every writer). When {@code expectedReftables} is not null the commit is a
     * ref update decided on those reftables: if any other ref update's reftable was listed since,
     * nothing changes and {@link ListChanged} is thrown. Compactions' reftables only restate refs
     * that were already listed, so they do not conflict; packs in {@code drop} that another commit
     * dropped already stay dropped. Returns the new generation.
     */
    long commit(long repoId, List<PackRow> add, Collection<String> drop, Set<String> expectedReftables)
            throws ListChanged {
        try {
            return db.inTransaction(h -> {
                // Taking the next generation locks the row: the list's compare-and-swap, in one round trip.
                Optional<Long> generation = h.createQuery("UPDATE git_repositories SET generation = generation + 1 "
                                + "WHERE id = :r RETURNING generation")
                        .bind("r", repoId).mapTo(Long.class).findOne();
                if (generation.isEmpty()) {
                    throw new ListChangedUnchecked("the repository was deleted");
                }
                if (expectedReftables != null) {
                    List<String> written = h.createQuery("SELECT name FROM git_packs WHERE repository_id = :r "
                                    + "AND dropped_at IS NULL AND source = 'INSERT' AND " + HAS_REFTABLE)
                            .bind("r", repoId).mapTo(String.class).list();
                    if (!expectedReftables.containsAll(written)) {
                        throw new ListChangedUnchecked("another writer updated the refs meanwhile");
                    }
                }
                long now = System.currentTimeMillis();
                if (!drop.isEmpty()) {
                    // One dropped already (by a compaction, or a ref update compacting the top reftables) stays dropped.
                    h.createUpdate("UPDATE git_packs SET dropped_at = :now WHERE repository_id = :r "
                                    + "AND name IN (<names>) AND dropped_at IS NULL")
                            .bind("now", now).bind("r", repoId).bindList("names", List.copyOf(drop)).execute();
                }
                for (PackRow pack : add) {
                    h.createUpdate("""
                                    INSERT INTO git_packs (repository_id, name, source, extensions, object_count,
                                        delta_count, index_version, min_update_index, max_update_index, last_modified)
                                    VALUES (:r, :name, :source, :ext, :objects, :deltas, :iv, :min, :max, :modified)
                                    """)
                            .bind("r", repoId)
                            .bind("name", pack.name())
                            .bind("source", pack.source())
                            .bind("ext", String.join(",", pack.extensions().stream().sorted().toList()))
                            .bind("objects", pack.objectCount())
                            .bind("deltas", pack.deltaCount())
                            .bind("iv", pack.indexVersion())
                            .bind("min", pack.minUpdateIndex())
                            .bind("max", pack.maxUpdateIndex())
                            .bind("modified", pack.lastModified())
                            .execute();
                }
                return generation.get();
            });
        } catch (ListChangedUnchecked e) {
            throw new ListChanged(e.getMessage());
        }
    }

    /** Carries a {@link ListChanged} out of a transaction callback, rolling it back. */
    private static final class ListChangedUnchecked extends RuntimeException {
        ListChangedUnchecked(String message) {
            super(message, null, false, false);
        }
    }

    // ---- leases and clean-up ----

    /** Takes the compaction lease of a repository unless another holder's lease is still running. */
    boolean takeCompactionLease(long repoId, String holder, long untilMillis) {
        long now = System.currentTimeMillis();
        return db.execute("UPDATE git_repositories SET compact_holder = ?, compact_until = ? WHERE id = ? "
                + "AND (compact_until IS NULL OR compact_until < ? OR compact_holder = ?)",
                holder, untilMillis, repoId, now, holder) == 1;
    }

    void releaseCompactionLease(long repoId, String holder) {
        db.execute("UPDATE git_repositories SET compact_holder = NULL, compact_until = NULL WHERE id = ? "
                + "AND compact_holder = ?", repoId, holder);
    }

    /**
     * Deletes the files of packs dropped before {@code droppedBefore}, and files never committed
     * that were started before {@code startedBefore} (a writer that died). Returns how many packs' files went.
     */
    int sweep(long droppedBefore, long startedBefore) {
        return db.inTransaction(h -> {
            List<Map<String, Object>> dropped = new ArrayList<>(h.createQuery(
                            "SELECT repository_id, name FROM git_packs WHERE dropped_at IS NOT NULL AND dropped_at < :t")
                    .bind("t", droppedBefore).mapToMap().list());
            List<Map<String, Object>> orphans = h.createQuery("""
                            SELECT DISTINCT f.repository_id, f.pack_name AS name FROM git_pack_files f
                            WHERE f.created_at < :t AND NOT EXISTS (SELECT 1 FROM git_packs p
                                  WHERE p.repository_id = f.repository_id AND p.name = f.pack_name)
                            """)
                    .bind("t", startedBefore).mapToMap().list();
            int files = 0;
            for (Map<String, Object> pack : dropped) {
                long repo = ((Number) pack.get("repository_id")).longValue();
                String name = (String) pack.get("name");
                deleteFiles(h, repo, name);
                h.execute("DELETE FROM git_packs WHERE repository_id = ? AND name = ?", repo, name);
                files++;
            }
            for (Map<String, Object> pack : orphans) {
                deleteFiles(h, ((Number) pack.get("repository_id")).longValue(), (String) pack.get("name"));
                files++;
            }
            return files;
        });
    }

    /** Bytes the files of a project's repositories take. */
    long size(String projectId) {
        return db.withHandle(h -> h.createQuery("""
                        SELECT COALESCE(SUM(f.size), 0) FROM git_pack_files f
                        JOIN git_repositories r ON r.id = f.repository_id
                        WHERE r.project_id = :p AND f.size > 0
                        """)
                .bind("p", projectId).mapTo(Long.class).one());
    }
}
