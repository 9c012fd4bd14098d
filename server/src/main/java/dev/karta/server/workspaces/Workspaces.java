package dev.karta.server.workspaces;

import dev.karta.server.Config;
import dev.karta.server.build.ReleaseFiles;
import dev.karta.server.build.Tree;
import dev.karta.server.http.ApiError;
import dev.karta.server.logs.LogSource;
import dev.karta.server.logs.LogStore;
import dev.karta.server.process.Confinement;
import dev.karta.server.store.Database;
import dev.karta.server.store.Digests;
import dev.karta.server.store.Threads;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.Semaphore;
import java.util.concurrent.locks.ReentrantLock;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Sessions' workspaces on this machine. A session gets its own workspace, made from its pinned
 * release: a copy of the tree, or (where the sandbox mounts overlays) an overlay whose writes go to
 * an upper folder of its own; and its own HOME. The workspace is prepared in the background once
 * the session is created ({@link #prepareSoon}); a turn waits for it, or makes it when it is
 * missing (after a restart with an empty cache, on another server). Before each turn the HOME is
 * restored from the store when the local copy is missing or stale; after each turn it is saved
 * there ({@code session_state}), so the harness resumes its conversation wherever the next turn
 * runs. Working files are local: a released workspace is remade from the release.
 *
 * <p>Quotas: a workspace is measured after every turn, and a session whose workspace holds more
 * than {@code maxWorkspaceBytes} is refused further turns; at most {@code maxWorkspaces} are kept
 * here, the least recently used idle ones beyond are released (their state stays in the store);
 * an ended session's workspace and saved state go at once.
 *
 * <p>Each workspace has a lock: preparing, turns, saving, measuring and releasing one session's
 * workspace never overlap; a workspace in use by a turn is never released under it.
 */
public final class Workspaces implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(Workspaces.class);
    /** Copies are disk-bound: two at once keep creation bursts moving without starving turns. */
    private static final int PREPARERS = 2;
    /**
     * Saved states are held in memory while they move between the HOME and the database (up to
     * {@code maxStateBytes} each): at most this many at once, whatever the number of turns.
     */
    private static final int STATE_TRANSFERS = 2;

    /** Tells which of some sessions are live (not ended). */
    @FunctionalInterface
    public interface LiveSessions {
        Set<String> liveAmong(Collection<String> sessionIds);
    }

    /** A workspace that could not be made ready for a turn; the message says why. */
    public static final class Unavailable extends Exception {
        Unavailable(String message) {
            super(message, null, false, false);
        }
    }

    /** One session's workspace on this machine. Fields are guarded by {@link #lock}. */
    private static final class Entry {
        final String sessionId;
        final ReentrantLock lock = new ReentrantLock();
        /** Gone from the map: whoever still holds it must not make its folder again. */
        boolean removed;
        /** Its session ended while a turn used it: released when that turn ends. */
        boolean ended;
        boolean inUse;
        volatile long lastUsed = System.currentTimeMillis();
        /** Bytes measured last; null until measured. */
        volatile Long bytes;

        Entry(String sessionId) {
            this.sessionId = sessionId;
        }
    }

    private final WorkspaceFiles files;
    private final ReleaseFiles releases;
    private final SessionStateStore states;
    private final LogStore logs;
    private final Config.Workspaces settings;
    private final boolean overlays;
    private final Map<String, Entry> entries = new ConcurrentHashMap<>();
    private final ExecutorService preparers = Executors.newFixedThreadPool(PREPARERS, Threads.daemon("workspace-prepare"));
    private final Semaphore transfers = new Semaphore(STATE_TRANSFERS);

    /**
     * @param overlays whether the sandbox mounts overlay workspaces; else each workspace is a copy
     */
    public Workspaces(WorkspaceFiles files, ReleaseFiles releases, Database db, LogStore logs,
                      Config.Workspaces settings, boolean overlays) {
        this.files = files;
        this.releases = releases;
        this.states = new SessionStateStore(db);
        this.logs = logs;
        this.settings = settings;
        this.overlays = overlays;
    }

    /**
     * Takes stock of the workspaces a previous run left here: those of sessions no longer live are
     * released, the others kept (their sizes measured in the background).
     */
    public void start(LiveSessions live) {
        try {
            files.sweepLeftovers();
            List<String> found = files.sessions();
            Set<String> keep = live.liveAmong(found);
            for (String sessionId : found) {
                Entry entry = entries.computeIfAbsent(sessionId, Entry::new);
                if (!keep.contains(sessionId)) {
                    release(sessionId);
                } else {
                    entry.lastUsed = 0; // older than anything used in this run
                }
            }
        } catch (IOException e) {
            LOG.warn("could not list the workspaces left by a previous run: {}", e.toString());
        }
        for (Entry entry : List.copyOf(entries.values())) {
            submit(() -> onEntry(entry, e -> {
                if (!e.inUse && files.ready(e.sessionId, overlays)) { // a turn in use measures it when it ends
                    e.bytes = files.bytes(e.sessionId);
                }
            }));
        }
    }

    /**
     * Prepares the workspace of a session just created, in the background. A failure is only
     * logged here: the first turn tries again and reports it.
     */
    public void prepareSoon(String sessionId, String version, String contentDigest) {
        Entry entry = entries.computeIfAbsent(sessionId, Entry::new);
        submit(() -> {
            onEntry(entry, e -> {
                prepare(e, version, contentDigest);
                if (!files.hasHome(sessionId)) {
                    files.createHome(sessionId);
                }
            });
            evictBeyondCap();
        });
    }

    private void submit(Runnable task) {
        try {
            preparers.execute(() -> {
                try {
                    task.run();
                } catch (RuntimeException e) {
                    LOG.warn("workspace task failed: {}", e.toString());
                }
            });
        } catch (RejectedExecutionException e) {
            // Shutting down: the first turn prepares what is missing.
        }
    }

    private interface Step {
        void on(Entry entry) throws IOException, Unavailable;
    }

    /**
     * Runs {@code step} on {@code entry} under its lock, unless it was released meanwhile (its
     * session ended, or it was evicted: a turn makes it again); failures are logged.
     */
    private void onEntry(Entry entry, Step step) {
        entry.lock.lock();
        try {
            if (!entry.removed) {
                step.on(entry);
            }
        } catch (IOException | Unavailable e) {
            LOG.warn("workspace of session {}: {}", entry.sessionId, e.getMessage());
        } finally {
            entry.lock.unlock();
        }
    }

    /** The session's entry, created when missing, locked by the caller's thread. */
    private Entry lockedEntry(String sessionId) {
        while (true) {
            Entry entry = entries.computeIfAbsent(sessionId, Entry::new);
            entry.lock.lock();
            if (!entry.removed) {
                return entry;
            }
            entry.lock.unlock();
        }
    }

    /** Makes the working files ready: under the entry's lock. */
    private void prepare(Entry entry, String version, String contentDigest) throws IOException, Unavailable {
        if (files.ready(entry.sessionId, overlays)) {
            return;
        }
        if (overlays) {
            files.prepareOverlay(entry.sessionId);
        } else {
            files.copy(tree(version, contentDigest), entry.sessionId);
        }
        entry.bytes = files.bytes(entry.sessionId);
    }

    private Path tree(String version, String contentDigest) throws Unavailable {
        return releases.checkOut(contentDigest).map(Tree::dir).orElseThrow(() -> new Unavailable(
                "the files of release " + version + " are missing from this server"));
    }

    /**
     * Refuses a turn of a session whose workspace a previous turn left over the size limit: 409
     * {@code workspace_quota_exceeded}.
     */
    public void checkQuota(String sessionId) {
        Entry entry = entries.get(sessionId);
        Long bytes = entry == null ? null : entry.bytes;
        if (bytes != null && bytes > settings.maxWorkspaceBytes()) {
            throw new ApiError(ApiError.Kind.CONFLICT, "workspace_quota_exceeded", "the workspace of session "
                    + sessionId + " holds " + bytes + " bytes, over the limit of " + settings.maxWorkspaceBytes()
                    + " bytes (--max-workspace-bytes); end this session and open a new one");
        }
    }

    /** Bytes of the session's workspace on this machine, as last measured; null when it has none here. */
    public Long bytes(String sessionId) {
        Entry entry = entries.get(sessionId);
        return entry == null ? null : entry.bytes;
    }

    /**
     * The session's workspace, ready for a turn: its working files prepared (awaiting a preparation
     * under way, or making it), its HOME restored from the store when the local copy is missing or
     * stale. Close the lease when the harness has ended: that saves the state and measures.
     */
    public Lease open(String sessionId, String projectId, String version, String contentDigest) throws Unavailable {
        Entry entry = lockedEntry(sessionId);
        try {
            try {
                prepare(entry, version, contentDigest);
                restore(entry);
            } catch (IOException e) {
                throw new Unavailable("could not prepare the workspace of session " + sessionId + ": " + e.getMessage());
            }
            WorkspaceFiles.Layout layout = files.layout(sessionId);
            Confinement confinement = overlays
                    ? new Confinement(layout.files(), layout.home(), new Confinement.Overlay(
                            tree(version, contentDigest), layout.upper(), layout.scratch()))
                    : Confinement.directory(layout.files(), layout.home());
            entry.inUse = true;
            entry.lastUsed = System.currentTimeMillis();
            return new Lease(entry, projectId, version, confinement);
        } finally {
            entry.lock.unlock();
        }
    }

    /** Restores the HOME from the store when the local one is missing or not the saved one. */
    private void restore(Entry entry) throws IOException, Unavailable {
        String sessionId = entry.sessionId;
        Optional<String> saved = states.digest(sessionId);
        boolean hasHome = files.hasHome(sessionId);
        if (saved.isEmpty() || (hasHome && saved.equals(files.stamp(sessionId)))) {
            if (!hasHome) {
                files.createHome(sessionId);
            }
            return;
        }
        transfers.acquireUninterruptibly();
        try {
            byte[] data = states.data(sessionId).orElse(null);
            if (data == null) { // forgotten between the two reads: the session ended meanwhile
                files.createHome(sessionId);
                return;
            }
            try {
                files.restoreHome(sessionId, data, settings.maxWorkspaceBytes());
            } catch (IOException e) {
                throw new Unavailable("could not restore the saved harness state of session " + sessionId + ": "
                        + e.getMessage());
            }
            files.stamp(sessionId, Digests.sha256Hex(data));
        } finally {
            transfers.release();
        }
    }

    /** A workspace in use by one turn. */
    public final class Lease implements AutoCloseable {
        private final Entry entry;
        private final String projectId;
        private final String version;
        private final Confinement confinement;

        private Lease(Entry entry, String projectId, String version, Confinement confinement) {
            this.entry = entry;
            this.projectId = projectId;
            this.version = version;
            this.confinement = confinement;
        }

        /** What the harness may touch: the workspace and HOME (and the overlay, when there is one). */
        public Confinement confinement() {
            return confinement;
        }

        /**
         * Ends the turn's use (the harness is gone): saves the HOME in the store, measures the
         * workspace, and releases it if its session ended meanwhile. Never throws: a failed save
         * is logged, and the turn's answer stands.
         */
        @Override
        public void close() {
            entry.lock.lock();
            try {
                entry.inUse = false;
                entry.lastUsed = System.currentTimeMillis();
                if (entry.ended) {
                    remove(entry);
                    return;
                }
                save(entry, projectId, version);
                measure(entry, projectId, version);
            } finally {
                entry.lock.unlock();
            }
            evictBeyondCap();
        }
    }

    private void save(Entry entry, String projectId, String version) {
        transfers.acquireUninterruptibly();
        try {
            transfer(entry.sessionId, projectId, version);
        } finally {
            transfers.release();
        }
    }

    private void transfer(String sessionId, String projectId, String version) {
        byte[] data;
        try {
            data = files.archiveHome(sessionId, settings.maxStateBytes(), settings.maxWorkspaceBytes());
        } catch (WorkspaceFiles.TooLarge e) {
            warn(projectId, version, "Harness state of session " + sessionId + " not saved: " + e.getMessage()
                    + " (--max-session-state-bytes " + settings.maxStateBytes() + "); the session goes on on this "
                    + "server, but resumes from its last saved state elsewhere or after its workspace is released");
            return;
        } catch (IOException | RuntimeException e) {
            warn(projectId, version, "Harness state of session " + sessionId + " not saved: " + e);
            return;
        }
        String digest = Digests.sha256Hex(data);
        try {
            if (Optional.of(digest).equals(files.stamp(sessionId))) {
                return; // unchanged since the last save or restore
            }
            if (states.save(sessionId, digest, data, System.currentTimeMillis())) {
                files.stamp(sessionId, digest);
            }
        } catch (IOException | RuntimeException e) {
            warn(projectId, version, "Harness state of session " + sessionId + " not saved: " + e);
        }
    }

    private void measure(Entry entry, String projectId, String version) {
        try {
            long bytes = files.bytes(entry.sessionId);
            entry.bytes = bytes;
            if (bytes > settings.maxWorkspaceBytes()) {
                warn(projectId, version, "Workspace of session " + entry.sessionId + " holds " + bytes
                        + " bytes, over the limit of " + settings.maxWorkspaceBytes() + " (--max-workspace-bytes): "
                        + "its next messages are refused");
            }
        } catch (IOException | RuntimeException e) {
            LOG.warn("could not measure the workspace of session {}: {}", entry.sessionId, e.toString());
        }
    }

    private void warn(String projectId, String version, String message) {
        LOG.warn(message);
        try {
            logs.append(projectId, LogSource.SESSION, null, version, message);
        } catch (RuntimeException e) {
            LOG.warn("could not log it (project deleted meanwhile?): {}", e.toString());
        }
    }

    /**
     * Releases the workspace and forgets the saved state of a session that ended; a turn still
     * using the workspace releases it when it ends.
     */
    public void release(String sessionId) {
        try {
            states.delete(sessionId);
        } catch (RuntimeException e) {
            LOG.warn("could not forget the state of session {}: {}", sessionId, e.toString());
        }
        Entry entry = entries.get(sessionId);
        if (entry == null) {
            return;
        }
        entry.lock.lock();
        try {
            if (entry.inUse) {
                entry.ended = true;
            } else if (!entry.removed) {
                remove(entry);
            }
        } finally {
            entry.lock.unlock();
        }
    }

    /**
     * Takes the entry's folder away and the entry out of the map, under its lock; the space is
     * freed in the background (a copy of a large tree takes a while to delete).
     */
    private void remove(Entry entry) {
        entry.removed = true;
        entries.remove(entry.sessionId, entry);
        try {
            WorkspaceFiles.Removal removal = files.remove(entry.sessionId);
            if (removal != null) {
                submit(() -> {
                    try {
                        removal.finish();
                    } catch (IOException e) {
                        LOG.warn("could not delete the workspace of session {}: {}", entry.sessionId, e.toString());
                    }
                });
            }
        } catch (IOException | RuntimeException e) {
            LOG.warn("could not delete the workspace of session {}: {}", entry.sessionId, e.toString());
        }
    }

    /**
     * Releases the least recently used idle workspaces beyond {@code maxWorkspaces}. Their saved
     * state stays in the store; a next turn makes the workspace again.
     */
    void evictBeyondCap() {
        int excess = entries.size() - settings.maxWorkspaces();
        if (excess <= 0) {
            return;
        }
        List<Entry> oldestFirst = new ArrayList<>(entries.values());
        oldestFirst.sort(Comparator.comparingLong(e -> e.lastUsed));
        for (Entry entry : oldestFirst) {
            if (excess <= 0) {
                return;
            }
            if (!entry.lock.tryLock()) {
                continue; // being prepared or used right now
            }
            try {
                if (!entry.inUse && !entry.removed) {
                    remove(entry);
                    excess--;
                    LOG.info("released the workspace of session {} (least recently used beyond --max-workspaces {})",
                            entry.sessionId, settings.maxWorkspaces());
                }
            } finally {
                entry.lock.unlock();
            }
        }
    }

    /**
     * Housekeeping: releases the workspaces of sessions that are no longer live (ended elsewhere,
     * timed out, their project deleted), forgets the saved state of ended sessions, and keeps the
     * number of workspaces within the cap.
     */
    public void sweep(LiveSessions live) {
        Set<String> keep = live.liveAmong(List.copyOf(entries.keySet()));
        for (String sessionId : List.copyOf(entries.keySet())) {
            if (!keep.contains(sessionId)) {
                release(sessionId);
            }
        }
        int forgotten = states.deleteEnded();
        if (forgotten > 0) {
            LOG.info("forgot the saved state of {} ended session(s)", forgotten);
        }
        evictBeyondCap();
    }

    @Override
    public void close() {
        preparers.shutdownNow();
    }
}
