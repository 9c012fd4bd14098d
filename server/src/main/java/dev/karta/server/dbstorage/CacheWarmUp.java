package dev.karta.server.dbstorage;

import dev.karta.server.build.ReleaseFiles;
import dev.karta.server.store.Database;
import dev.karta.server.store.Threads;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Keeps a replica's cache holding the files of every project's active release, so that the first
 * session of a release on a replica (after a rolling update, on a replica added, on a cache on an
 * emptied volume, or after a deploy or rollback on another replica) does not wait for them.
 *
 * <p>At start it fetches the trees of every active release, the most recently activated first;
 * until that is done, or until its time is up, the replica says it is not ready ({@link #pending}):
 * a balancer sends it nothing yet. After the time is up the replica is ready and the warm-up goes
 * on in the background. Later, each release another replica activates is fetched as it is
 * announced ({@link #prefetch}). Fetches run one at a time on one thread; a tree that cannot be
 * fetched is logged and skipped (a session would fetch it again).
 */
public final class CacheWarmUp implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(CacheWarmUp.class);
    /** Announced activations waiting for the fetching thread; more are dropped (sessions fetch them). */
    private static final int MAX_QUEUED = 1000;

    private final Database db;
    private final ReleaseFiles files;
    private final Clock clock;
    private final long deadline;
    private final boolean enabled;
    private final ThreadPoolExecutor fetcher = new ThreadPoolExecutor(1, 1, 0, TimeUnit.MILLISECONDS,
            new ArrayBlockingQueue<>(MAX_QUEUED), Threads.daemon("cache-warm-up"),
            new ThreadPoolExecutor.DiscardPolicy());
    private volatile boolean done;

    /**
     * A warm-up that holds readiness back from now on until it is done, for at most {@code limit};
     * with {@link Duration#ZERO} there is none, the server is ready at once and nothing is fetched
     * ahead of sessions.
     */
    public CacheWarmUp(Database db, ReleaseFiles files, Duration limit, Clock clock) {
        this.db = db;
        this.files = files;
        this.clock = clock;
        this.deadline = clock.millis() + limit.toMillis();
        this.enabled = !limit.isZero();
        this.done = !enabled;
    }

    /** Starts the warm-up (once the cache is ready for it: leftovers swept). */
    public void start() {
        if (enabled) {
            fetcher.execute(this::warmUp);
        }
    }

    /** Fetches the tree of release {@code releaseId}, activated on another replica, in the background. */
    public void prefetch(String releaseId) {
        if (enabled) {
            fetcher.execute(() -> treeOf(releaseId).ifPresent(this::fetch));
        }
    }

    /** Why this replica is not ready yet, or null once the warm-up is done or its time is up. */
    public String pending() {
        if (done) {
            return null;
        }
        long left = deadline - clock.millis();
        if (left <= 0) {
            return null;
        }
        // No counts: /readyz answers anyone, and how many projects an installation runs is not theirs to know.
        return "fetching the active releases' files into this replica's cache; ready within "
                + Math.max(1, (left + 999) / 1000) + " s";
    }

    private void warmUp() {
        long started = System.nanoTime();
        try {
            List<String> digests = activeTrees();
            LOG.info("cache warm-up: fetching the files of {} active releases", digests.size());
            for (String digest : digests) {
                if (Thread.currentThread().isInterrupted()) {
                    return;
                }
                fetch(digest);
            }
            LOG.info("cache warm-up: done after {} ms", (System.nanoTime() - started) / 1_000_000);
        } catch (RuntimeException e) {
            LOG.warn("cache warm-up stopped: {}", e.toString());
        } finally {
            done = true;
        }
    }

    private void fetch(String digest) {
        try {
            if (files.checkOut(digest).isEmpty()) {
                LOG.warn("cache warm-up: the tree {} is not stored; skipped", digest);
            }
        } catch (RuntimeException e) {
            LOG.warn("cache warm-up: cannot fetch the tree {}: {}; skipped", digest, e.toString());
        }
    }

    /** The trees of the projects' active releases, each once, the most recently activated first. */
    private List<String> activeTrees() {
        return db.withHandle(h -> h.createQuery("""
                        SELECT r.content_digest FROM projects p JOIN releases r ON r.id = p.current_release_id
                        GROUP BY r.content_digest ORDER BY MAX(COALESCE(r.activated_at, r.created_at)) DESC
                        """)
                .mapTo(String.class)
                .list());
    }

    private Optional<String> treeOf(String releaseId) {
        try {
            return db.withHandle(h -> h.createQuery("SELECT content_digest FROM releases WHERE id = :id")
                    .bind("id", releaseId).mapTo(String.class).findOne());
        } catch (RuntimeException e) {
            LOG.warn("cache warm-up: cannot look up release {}: {}", releaseId, e.toString());
            return Optional.empty();
        }
    }

    /** Stops fetching, waiting a little for a fetch in flight to end. */
    @Override
    public void close() {
        fetcher.shutdownNow();
        try {
            fetcher.awaitTermination(5, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
