package dev.karta.server.logs;

import dev.karta.server.Config;
import dev.karta.server.store.Threads;
import java.time.Instant;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Prunes project logs in the background: every {@code pruneEvery}, each project keeps the
 * entries younger than {@code retention}, and of those at most its newest {@code maxEntries}.
 * Deletes go in small batches so that writers never wait long for the database.
 */
public final class LogRetention implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(LogRetention.class);
    private static final int BATCH = 5_000;

    private final LogStore store;
    private final Config.Logs settings;
    private final ScheduledExecutorService scheduler =
            Executors.newSingleThreadScheduledExecutor(Threads.daemon("log-prune"));

    public LogRetention(LogStore store, Config.Logs settings) {
        this.store = store;
        this.settings = settings;
    }

    public LogRetention start() {
        long every = settings.pruneEvery().toMillis();
        scheduler.scheduleWithFixedDelay(this::pruneSafely, every, every, TimeUnit.MILLISECONDS);
        return this;
    }

    private void pruneSafely() {
        try {
            prune();
        } catch (RuntimeException e) {
            LOG.warn("log pruning failed, will retry: {}", e.toString());
        }
    }

    /** One pass over every project; returns the number of entries deleted. */
    long prune() {
        Instant cutoff = Instant.now().minus(settings.retention());
        long deleted = 0;
        for (String projectId : store.projects()) {
            int batch;
            do {
                batch = store.prune(projectId, cutoff, settings.maxEntries(), BATCH);
                deleted += batch;
            } while (batch == BATCH && !Thread.currentThread().isInterrupted());
        }
        if (deleted > 0) {
            LOG.info("pruned {} log entries (older than {} or beyond {} per project)", deleted,
                    settings.retention(), settings.maxEntries());
        }
        return deleted;
    }

    @Override
    public void close() {
        scheduler.shutdownNow();
    }
}
