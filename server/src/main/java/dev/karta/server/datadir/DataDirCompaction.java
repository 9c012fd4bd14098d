package dev.karta.server.datadir;

import dev.karta.server.store.Threads;
import java.io.File;
import java.io.IOException;
import java.text.ParseException;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import org.eclipse.jgit.errors.RepositoryNotFoundException;
import org.eclipse.jgit.internal.storage.file.FileRepository;
import org.eclipse.jgit.internal.storage.file.GC;
import org.eclipse.jgit.internal.storage.file.ObjectDirectory;
import org.eclipse.jgit.lib.ConfigConstants;
import org.eclipse.jgit.lib.Repository;
import org.eclipse.jgit.lib.StoredConfig;
import org.eclipse.jgit.storage.file.FileRepositoryBuilder;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Keeps the data dir's repositories down to a few packs. JGit stores each push and each fetch as a
 * pack of its own, and every object lookup searches every pack. JGit's own answer, repacking at
 * the end of a push ({@code receive.autogc}), is switched off: it checks in the push's request,
 * leaves the packs it replaced for an hour and so, once 50 packs exist, repacks after every push
 * while the next push re-reads every index. Instead a repository that has gathered more than
 * {@link #COMPACT_ABOVE_PACKS} packs is repacked here, in the background, one repository at a
 * time, like the database's repositories ({@code DatabaseRepoStore}): one pack of what the refs
 * reach; the packs it replaces are deleted at once, as {@code git repack -d} does, objects no ref
 * reaches are kept as loose objects for JGit's prune period (two weeks), and a pack a push still
 * holds ({@code .keep}) is left alone. This is safe beside readers and pushes: a reader that
 * finds a pack gone looks again and finds its objects in the new one, and what a push stored after
 * the refs were read is loosened, not lost.
 */
final class DataDirCompaction {
    /** Packs a repository may have before it is compacted (as in the database's store). */
    static final int COMPACT_ABOVE_PACKS = 8;
    private static final Logger LOG = LoggerFactory.getLogger(DataDirCompaction.class);

    /** Repositories queued or being compacted, by folder: a request for one of them changes nothing. */
    private final Set<File> queued = ConcurrentHashMap.newKeySet();
    /** One thread, started on demand and ended when idle, so an idle store holds none. */
    private final ThreadPoolExecutor background = new ThreadPoolExecutor(0, 1, 30, TimeUnit.SECONDS,
            new LinkedBlockingQueue<>(), Threads.daemon("git-compaction"));

    /** Switches JGit's repacking in the push's request off ({@code receive.autogc}), once per repository. */
    static void disableRepackOnReceive(Repository repo) throws IOException {
        StoredConfig config = repo.getConfig();
        if (config.getBoolean(ConfigConstants.CONFIG_RECEIVE_SECTION, ConfigConstants.CONFIG_KEY_AUTOGC, true)) {
            config.setBoolean(ConfigConstants.CONFIG_RECEIVE_SECTION, null, ConfigConstants.CONFIG_KEY_AUTOGC, false);
            config.save();
        }
    }

    /** Objects were added to {@code repo}: queues its compaction when it has too many packs. */
    void added(Repository repo) {
        if (!(repo.getObjectDatabase() instanceof ObjectDirectory objects)
                || objects.getPacks().size() <= COMPACT_ABOVE_PACKS) {
            return;
        }
        File dir = repo.getDirectory();
        if (!queued.add(dir)) {
            return;
        }
        try {
            background.execute(() -> {
                try {
                    compact(dir);
                } finally {
                    queued.remove(dir);
                }
            });
        } catch (RejectedExecutionException e) {
            queued.remove(dir);
        }
    }

    /**
     * Repacks through an instance of its own: the cached one that pushes use notices the new pack
     * list on its next read, and a repository deleted meanwhile is not registered again.
     */
    private static void compact(File dir) {
        long started = System.nanoTime();
        try (Repository repo = new FileRepositoryBuilder().setGitDir(dir).setMustExist(true).build()) {
            int before = ((ObjectDirectory) repo.getObjectDatabase()).getPacks().size();
            if (before <= COMPACT_ABOVE_PACKS) {
                return;
            }
            GC gc = new GC((FileRepository) repo);
            gc.setPackExpireAgeMillis(0);
            // Not gc(): it also packs the refs, locking each one, which would fail a push's ref update.
            gc.repack();
            gc.prune(Set.of());
            LOG.info("compacted {}: {} packs into {} in {} ms", dir, before,
                    ((ObjectDirectory) repo.getObjectDatabase()).getPacks().size(),
                    (System.nanoTime() - started) / 1_000_000);
        } catch (RepositoryNotFoundException e) {
            LOG.debug("not compacting {}: deleted meanwhile", dir);
        } catch (IOException | ParseException | RuntimeException e) {
            LOG.warn("compacting {} failed; the next push or fetch into it retries: {}", dir, e.toString());
        }
    }
}
