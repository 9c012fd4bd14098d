package dev.karta.server.dbstorage;

import dev.karta.server.build.ReleaseFiles;
import dev.karta.server.store.Database;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Fills a starting replica's cache with the files of every project's active release, the most
 * recently activated first, so that the first session of a release on a new replica (a rolling
 * update, a replica added, a cache on an emptied volume) does not wait for them. Until it is done,
 * or until its time is up, the replica says it is not ready ({@link #pending}): a balancer sends
 * it nothing yet. After the time is up the replica is ready and the warm-up goes on in the
 * background; a tree it cannot fetch is logged and skipped (a session would fetch it again).
 */
public final class CacheWarmUp implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(CacheWarmUp.class);

    private final Database db;
    private final ReleaseFiles files;
    private final Clock clock;
    private final long deadline;
    private volatile boolean done;
    private volatile Thread thread;

    /**
     * A warm-up that holds readiness back from now on until it is done, for at most {@code limit};
     * with {@link Duration#ZERO} there is none, and the server is ready at once.
     */
    public CacheWarmUp(Database db, ReleaseFiles files, Duration limit, Clock clock) {
        this.db = db;
        this.files = files;
        this.clock = clock;
        this.deadline = clock.millis() + limit.toMillis();
        this.done = limit.isZero();
    }

    /** Starts fetching on a thread of its own (once the cache is ready for it: leftovers swept). */
    public synchronized void start() {
        if (thread != null || done) {
            return;
        }
        thread = new Thread(this::run, "cache-warm-up");
        thread.setDaemon(true);
        thread.start();
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

    private void run() {
        long started = System.nanoTime();
        try {
            List<String> digests = activeTrees();
            LOG.info("cache warm-up: fetching the files of {} active releases", digests.size());
            for (String digest : digests) {
                if (Thread.currentThread().isInterrupted()) {
                    return;
                }
                try {
                    if (files.checkOut(digest).isEmpty()) {
                        LOG.warn("cache warm-up: the tree {} is not stored; skipped", digest);
                    }
                } catch (RuntimeException e) {
                    LOG.warn("cache warm-up: cannot fetch the tree {}: {}; skipped", digest, e.toString());
                }
            }
            LOG.info("cache warm-up: done after {} ms", (System.nanoTime() - started) / 1_000_000);
        } catch (RuntimeException e) {
            LOG.warn("cache warm-up stopped: {}", e.toString());
        } finally {
            done = true;
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

    /** Stops the warm-up, waiting a little for a fetch in flight to end. */
    @Override
    public void close() {
        Thread running = thread;
        if (running != null) {
            running.interrupt();
            try {
                running.join(5_000);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }
}
