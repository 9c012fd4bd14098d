package dev.karta.server.dbstorage;

import dev.karta.server.repos.RepoStore;
import dev.karta.server.store.Database;
import dev.karta.server.store.ProjectLocks;
import java.io.IOException;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.SQLException;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.eclipse.jgit.internal.storage.dfs.DfsGarbageCollector;
import org.eclipse.jgit.internal.storage.dfs.DfsPackDescription;
import org.eclipse.jgit.lib.Constants;
import org.eclipse.jgit.lib.ObjectId;
import org.eclipse.jgit.lib.RefUpdate;
import org.eclipse.jgit.lib.Repository;
import org.eclipse.jgit.util.TemporaryBuffer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Projects' git repositories in the database ({@code --storage database}): each a
 * {@link DatabaseRepository}, so any replica serves any push or clone. Every {@link #open} reads
 * the latest pack list and refs; pack bytes, being immutable, may come from JGit's block cache.
 *
 * <p>A repository with more than {@link #COMPACT_ABOVE_PACKS} object packs is compacted in the
 * background ({@link DfsGarbageCollector}: one pack of what the refs reach, one of the rest,
 * unreachable objects kept for a day) by one replica at a time, under a lease on its row that
 * another replica takes over once it expires. Packs a compaction replaces leave the list at once
 * and their bytes {@link #DROPPED_PACKS_KEPT} later, so readers that listed them just before can
 * finish. Export buffers live in the data dir, which is only scratch space here.
 */
public final class DatabaseRepoStore implements RepoStore, AutoCloseable {
    /** Object packs a repository may have before it is compacted. */
    static final int COMPACT_ABOVE_PACKS = 8;
    /** How long a compaction may take before another replica may take its lease over. */
    static final Duration COMPACTION_LEASE = Duration.ofMinutes(10);
    /**
     * How long the bytes of a pack outlive its removal from the list: longer than a clone or an
     * export of a big repository that listed the pack before a compaction replaced it.
     */
    static final Duration DROPPED_PACKS_KEPT = Duration.ofHours(1);
    /** How long a file that was never committed (its writer died) is kept: longer than any push. */
    static final Duration UNFINISHED_FILES_KEPT = Duration.ofHours(24);
    /** How often each replica looks for repositories to compact and bytes to delete. */
    static final Duration SCAN_EVERY = Duration.ofMinutes(1);

    private static final Logger LOG = LoggerFactory.getLogger(DatabaseRepoStore.class);

    private final GitPackStore packs;
    private final RepoStore local;
    private final int compactAbovePacks;
    /** This replica's name on compaction leases. */
    private final String holder = "replica-" + UUID.randomUUID();
    private final Set<Long> queued = ConcurrentHashMap.newKeySet();
    private final ScheduledExecutorService background;
    private final Database db;
    private final boolean maintains;

    /**
     * {@code local} is this machine's own store, in the data dir: it holds the export buffers, says
     * what lies inside the data dir and sweeps what a killed server left there. Unless it
     * {@code maintains} the repositories (a server does, an operator's command does not), it never
     * compacts or sweeps them.
     */
    DatabaseRepoStore(Database db, RepoStore local, int compactAbovePacks, boolean maintains) {
        this.db = db;
        this.packs = new GitPackStore(db);
        this.local = local;
        this.compactAbovePacks = compactAbovePacks;
        this.background = Executors.newSingleThreadScheduledExecutor(runnable -> {
            Thread thread = new Thread(runnable, "git-compaction");
            thread.setDaemon(true);
            return thread;
        });
        this.maintains = maintains;
        if (maintains) {
            // The first scan runs at once: it sweeps what replicas that died left in the database.
            background.scheduleWithFixedDelay(this::scan, 0, SCAN_EVERY.toMillis(), TimeUnit.MILLISECONDS);
        }
    }

    @Override
    public Repository open(String projectId, String name, String headBranch) throws IOException {
        DatabaseRepository repo = repository(ensure(projectId, name));
        try {
            if (!repo.exists()) {
                initialise(repo, headBranch);
            }
            return repo;
        } catch (IOException | RuntimeException e) {
            repo.close();
            throw e;
        }
    }

    private GitPackStore.RepoRow ensure(String projectId, String name) throws IOException {
        try {
            // Most opens find the row: only the first one writes.
            Optional<GitPackStore.RepoRow> found = packs.find(projectId, name);
            return found.isPresent() ? found.get() : packs.ensure(projectId, name);
        } catch (RuntimeException e) {
            throw new IOException("cannot open repository " + name + " of project " + projectId, e);
        }
    }

    /** Points HEAD at {@code headBranch}; a replica that does it at the same time wins just as well. */
    private static void initialise(DatabaseRepository repo, String headBranch) throws IOException {
        RefUpdate head = repo.updateRef(Constants.HEAD);
        head.disableRefLog();
        RefUpdate.Result result = head.link(Constants.R_HEADS + (headBranch == null ? Constants.MASTER : headBranch));
        if (result != RefUpdate.Result.NEW && result != RefUpdate.Result.FORCED) {
            repo.scanForRepoChanges();
            if (!repo.exists()) {
                throw new IOException("cannot create " + repo + ": " + result);
            }
        }
    }

    @Override
    public Optional<Repository> openExisting(String projectId, String name) throws IOException {
        Optional<GitPackStore.RepoRow> row;
        try {
            row = packs.find(projectId, name);
        } catch (RuntimeException e) {
            throw new IOException("cannot open repository " + name + " of project " + projectId, e);
        }
        if (row.isEmpty()) {
            return Optional.empty();
        }
        DatabaseRepository repo = repository(row.get());
        if (!repo.exists()) {
            repo.close();
            return Optional.empty();
        }
        return Optional.of(repo);
    }

    private DatabaseRepository repository(GitPackStore.RepoRow row) {
        return new DatabaseRepository(packs, row, this::committed);
    }

    /** In the data dir: local scratch space, as on one machine. */
    @Override
    public TemporaryBuffer exportBuffer(String projectId, int inMemoryBytes) {
        return local.exportBuffer(projectId, inMemoryBytes);
    }

    @Override
    public void delete(String projectId, String name) {
        try {
            boolean under = name.endsWith("/");
            packs.delete(projectId, name, under);
        } catch (RuntimeException e) {
            LOG.warn("could not delete the repository {} of project {}", name, projectId, e);
        }
    }

    /** Nothing to do here: compaction is queued when the instance that committed a pack closes. */
    @Override
    public void added(Repository repo) {
    }

    @Override
    public PushedPacks trackPacks(Repository repo) {
        return repo instanceof DatabaseRepository dr ? new ReceivedPack(dr) : NOTHING;
    }

    @Override
    public long size(String projectId) {
        try {
            return packs.size(projectId);
        } catch (RuntimeException e) {
            LOG.warn("could not measure the repositories of project {}: {}", projectId, e.toString());
            return 0;
        }
    }

    @Override
    public boolean holds(Path path) {
        return local.holds(path);
    }

    /** Export buffers in the data dir, and files in the database that no pack list will ever name. */
    @Override
    public void sweepLeftovers() throws IOException {
        local.sweepLeftovers();
        sweep();
    }

    // ---- compaction ----

    /**
     * When an instance that added objects is closed (a push's, once the push has ended): compaction
     * is queued once the repository has too many packs, counted in the background so that closing
     * waits for no query.
     */
    private void committed(DatabaseRepository repo) {
        long id = repo.row().id();
        if (!maintains || queued.contains(id)) {
            return;
        }
        try {
            background.execute(() -> {
                try {
                    if (packs.objectPacks(id) > compactAbovePacks) {
                        request(id);
                    }
                } catch (RuntimeException e) {
                    LOG.debug("could not count the packs of {}: {}", repo, e.toString());
                }
            });
        } catch (RejectedExecutionException e) {
            // the store is closing: nothing is compacted any more
        }
    }

    private void request(long repoId) {
        if (!queued.add(repoId)) {
            return;
        }
        try {
            background.execute(() -> {
                queued.remove(repoId);
                compact(repoId);
            });
        } catch (java.util.concurrent.RejectedExecutionException e) {
            queued.remove(repoId); // closing
        }
    }

    /**
     * Compacts a repository under its lease: false when another replica holds the lease, the
     * repository is gone or has few enough packs, or the compaction failed (it is retried on a
     * later scan).
     */
    boolean compact(long repoId) {
        if (!packs.takeCompactionLease(repoId, holder, System.currentTimeMillis() + COMPACTION_LEASE.toMillis())) {
            return false;
        }
        try {
            Optional<GitPackStore.RepoRow> row = packs.byId(repoId);
            if (row.isEmpty() || packs.objectPacks(repoId) <= compactAbovePacks) {
                return false;
            }
            long started = System.nanoTime();
            try (Connection lock = db.openUnpooled()) {
                if (!ProjectLocks.tryLock(lock, row.get().projectId())) {
                    return false; // a push to the project is running: a later scan compacts
                }
                compact(row.get(), started);
            }
            return true;
        } catch (IOException | SQLException | RuntimeException e) {
            LOG.warn("compacting git repository #{} failed; a later scan retries", repoId, e);
            return false;
        } finally {
            try {
                packs.releaseCompactionLease(repoId, holder);
            } catch (RuntimeException e) {
                LOG.warn("could not release the compaction lease of git repository #{} (it expires): {}", repoId,
                        e.toString());
            }
        }
    }

    /** Compacts a repository, holding its lease and its project's lock. */
    private void compact(GitPackStore.RepoRow row, long started) throws IOException {
        try (DatabaseRepository repo = repository(row)) {
            DfsGarbageCollector gc = new DfsGarbageCollector(repo);
            gc.setReftableConfig(repo.getRefDatabase().getReftableConfig()); // one reftable for all refs too
            gc.pack(null);
            LOG.info("compacted {}: {} packs into {} in {} ms", repo, gc.getSourcePacks().size(),
                    gc.getNewPacks().size(), (System.nanoTime() - started) / 1_000_000);
        }
    }

    /** Queues the repositories with too many packs (also those a dead replica left) and deletes old bytes. */
    private void scan() {
        try {
            packs.needingCompaction(compactAbovePacks).forEach(this::request);
            sweep();
        } catch (RuntimeException e) {
            LOG.warn("git storage scan failed; the next one retries: {}", e.toString());
        }
    }

    private void sweep() {
        long now = System.currentTimeMillis();
        int swept = packs.sweep(now - DROPPED_PACKS_KEPT.toMillis(), now - UNFINISHED_FILES_KEPT.toMillis());
        if (swept > 0) {
            LOG.info("deleted the files of {} dropped or unfinished git packs", swept);
        }
    }

    /** The id of a repository's row, for tests and tools. */
    Optional<Long> idOf(String projectId, String name) {
        return packs.find(projectId, name).map(GitPackStore.RepoRow::id);
    }

    GitPackStore packs() {
        return packs;
    }

    @Override
    public void close() {
        background.shutdownNow();
        try {
            background.awaitTermination(10, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    // ---- pushed packs ----

    private static final PushedPacks NOTHING = new PushedPacks() {
        @Override
        public void beforeReceive() {
        }

        @Override
        public void afterReceive(List<ObjectId> pushed) {
        }

        @Override
        public void takeBack() {
        }
    };

    /**
     * The pack a push received into its own repository instance: JGit's pack parser commits
     * exactly one per push, and no other push shares the instance, so there is no guessing.
     */
    private static final class ReceivedPack implements PushedPacks {
        private final DatabaseRepository repo;
        private int before;
        private DfsPackDescription received;

        ReceivedPack(DatabaseRepository repo) {
            this.repo = repo;
        }

        @Override
        public void beforeReceive() {
            before = repo.received().size();
        }

        @Override
        public void afterReceive(List<ObjectId> pushed) {
            List<DfsPackDescription> all = repo.received();
            received = all.size() == before + 1 ? all.get(before) : null;
        }

        @Override
        public void takeBack() {
            if (received == null) {
                return;
            }
            DfsPackDescription pack = received;
            received = null;
            try {
                repo.getObjectDatabase().drop(pack);
                LOG.info("took back {} of a rejected push to {}", pack.getPackName(), repo);
            } catch (IOException e) {
                LOG.warn("could not take back {} of a rejected push to {}: {}", pack.getPackName(), repo, e.toString());
            }
        }
    }
}
