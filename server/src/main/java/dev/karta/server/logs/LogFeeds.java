package dev.karta.server.logs;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.karta.api.ErrorBody;
import dev.karta.api.LogEntry;
import dev.karta.server.Config;
import dev.karta.server.http.ApiError;
import dev.karta.server.http.Requests;
import dev.karta.server.http.sse.Sse;
import dev.karta.server.http.sse.SseStream;
import dev.karta.server.keys.ApiKeys;
import dev.karta.server.store.Threads;
import io.javalin.http.Context;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Consumer;
import java.util.function.Function;
import java.util.function.Predicate;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Live log streams. Every project with followers has one {@link Feed}: woken by the
 * {@link LogBus} (appends of this server, and on PostgreSQL those of other servers through
 * {@link LogWakeups}; polled every second instead while that is not listening, and always on
 * SQLite), it reads what is new with ONE query, encodes each entry once and fans the shared
 * frames out to all of the project's followers. Reads and fan-outs run on a small pool; writes to clients never block
 * ({@link SseStream}), so a thousand followers need no thousand threads.
 *
 * <p>A follower first replays from its cursor (Last-Event-ID, {@code since}, or the last N),
 * in pages paced by how fast its client reads, while already registered with the feed but
 * ignoring its frames. It turns live only when the feed has fanned out nothing beyond what the
 * replay read; from then on it takes feed frames with an id above its cursor. So the seam between
 * replay and live has neither a gap nor a repeat, and nothing is stashed per client meanwhile.
 *
 * <p>Streams that end together (one deploy's build log) share one {@link Ending}: their end
 * condition is read once for all of them, when the entries they have seen grow (every change of a
 * deploy's status writes an entry in the same transaction, and the feed's poll brings entries
 * other servers write) and, as a safety net, every {@value #END_POLL_MS} ms; never per follower.
 *
 * <p>A stream lives no longer than the key that opened it, nor than the dashboard session it was
 * opened with (a browser following logs with its cookie): a revocation or a sign-out on this
 * server ends those streams at once, and every {@value #KEY_CHECK_MS} ms the keys and sessions of
 * all open streams are checked against the database (revocations and sign-outs on other servers,
 * keys deleted with their org, sessions past their expiry). Such a stream ends with
 * {@code event: error} carrying {@code {"error":"unauthorized","message":…}}, and nothing queued
 * before it is sent.
 */
public final class LogFeeds implements AutoCloseable {
    /** The dashboard's sign-ins, as far as streams opened with one need them. */
    public interface SignIns {
        /** The sessions among {@code ids} that have ended anywhere: signed out, or expired. */
        Set<String> ended(Collection<String> ids);

        /** Calls {@code listener} with the id of each session signed out on this server. */
        void onSignOut(Consumer<String> listener);
    }

    private static final Logger LOG = LoggerFactory.getLogger(LogFeeds.class);
    static final int PAGE = 500;
    private static final long POLL_MS = 1000;
    static final long END_POLL_MS = 5000;
    static final long KEY_CHECK_MS = 2000;

    private final LogStore store;
    private final ObjectMapper json;
    private final Config.Logs settings;
    private final ApiKeys keys;
    private final SignIns signIns;
    private final LogWakeups wakeups;
    private final Map<String, Feed> feeds = new ConcurrentHashMap<>();
    private final Set<Follower> followers = ConcurrentHashMap.newKeySet();
    private final ExecutorService workers;
    private final ExecutorService senders;
    private final int sendSlices;
    private final ScheduledExecutorService ticker;
    private final Map<String, Ending> endings = new ConcurrentHashMap<>();
    /** Reads of the end condition of followed streams (a deploy's status), for tests. */
    private final AtomicLong endChecks = new AtomicLong();
    /** Counts the end polls; a shared end condition is read again when it has moved. */
    private final AtomicLong endTicks = new AtomicLong();
    private long polls; // ticker thread only

    public LogFeeds(LogStore store, ObjectMapper json, Config.Logs settings, ApiKeys keys, SignIns signIns,
                    LogWakeups wakeups) {
        this.store = store;
        this.json = json;
        this.settings = settings;
        this.keys = keys;
        this.signIns = signIns;
        this.wakeups = wakeups;
        this.workers = Executors.newFixedThreadPool(2, Threads.daemon("log-feed"));
        // Handing frames to sockets is most of a fan-out's cost: spread it over the cores.
        this.sendSlices = Math.max(2, Runtime.getRuntime().availableProcessors());
        this.senders = Executors.newFixedThreadPool(sendSlices - 1, Threads.daemon("log-send"));
        this.ticker = Executors.newSingleThreadScheduledExecutor(Threads.daemon("log-tick"));
        long heartbeat = settings.heartbeat().toMillis();
        ticker.scheduleAtFixedRate(this::heartbeat, heartbeat, heartbeat, TimeUnit.MILLISECONDS);
        ticker.scheduleWithFixedDelay(this::poll, POLL_MS, POLL_MS, TimeUnit.MILLISECONDS);
        ticker.scheduleWithFixedDelay(this::checkCredentials, KEY_CHECK_MS, KEY_CHECK_MS, TimeUnit.MILLISECONDS);
        keys.onRevoke(keyId -> endKeys(Set.of(keyId)));
        signIns.onSignOut(session -> endSessions(Set.of(session)));
    }

    /**
     * Answers the request with an SSE stream of the project's entries matching {@code filter}
     * with an id above {@code cursor}: replayed, then live. With {@code ending}, the stream
     * ends when it returns non-null: the rest of the log is sent, then {@code event: end}
     * with that data, then the response closes. Streams with the same {@code endKey} end on the
     * same condition, and it is read once for all of them.
     */
    void follow(Context ctx, String projectId, LogFilter filter, long cursor, String endKey,
                Supplier<String> ending) {
        long head = store.lastId(projectId);
        SseStream stream;
        try {
            stream = SseStream.start(ctx, settings.streamBuffer());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        Ending shared = ending == null ? null : endings.compute(endKey, (key, existing) -> {
            Ending e = existing != null ? existing : new Ending(ending);
            e.users++;
            return e;
        });
        Follower follower = new Follower(stream, Requests.principal(ctx).keyId(), Requests.dashboardSession(ctx),
                filter, cursor, endKey, shared);
        feeds.compute(projectId, (id, existing) -> {
            Feed f = existing != null ? existing : new Feed(id, head);
            follower.feed = f;
            f.add(follower);
            return f;
        });
        followers.add(follower);
        // Leaving takes the feed's lock: never on the thread that closed the stream, which may hold it.
        stream.onClose(() -> {
            try {
                workers.execute(() -> leave(follower));
            } catch (RuntimeException shuttingDown) {
                leave(follower);
            }
        });
        workers.execute(follower::replay);
    }

    private void leave(Follower follower) {
        followers.remove(follower);
        if (follower.ending != null && follower.left.compareAndSet(false, true)) {
            endings.computeIfPresent(follower.endKey, (key, e) -> --e.users == 0 ? null : e);
        }
        Feed feed = follower.feed;
        feeds.computeIfPresent(feed.projectId, (id, f) -> {
            f.remove(follower);
            if (!f.isEmpty()) {
                return f;
            }
            f.closeSubscription();
            return null;
        });
    }

    /** The SSE frame of an entry: its id as the event id, {@code event: log}, its JSON as data. */
    byte[] frame(LogEntry entry) {
        return Sse.event(Long.toString(entry.id()), "log", write(entry));
    }

    private String write(Object value) {
        try {
            return json.writeValueAsString(value);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
    }

    private void heartbeat() {
        for (Follower follower : followers) {
            if (follower.stream.enqueue(SseStream.HEARTBEAT)) {
                follower.stream.flush();
            }
        }
    }

    private void poll() {
        if (!wakeups.listening()) {
            feeds.values().forEach(Feed::wake);
        }
        if (++polls % (END_POLL_MS / POLL_MS) != 0) {
            return;
        }
        endTicks.incrementAndGet();
        for (Follower follower : followers) {
            if (follower.ending != null) {
                follower.checkEnd();
            }
        }
    }

    /**
     * Ends the streams opened with a key that is no longer valid anywhere (revoked, expired or
     * deleted), or with a dashboard session that has ended.
     */
    private void checkCredentials() {
        Set<String> openKeys = new HashSet<>();
        Set<String> openSessions = new HashSet<>();
        for (Follower follower : followers) {
            openKeys.add(follower.keyId);
            if (follower.session != null) {
                openSessions.add(follower.session);
            }
        }
        try {
            if (!openKeys.isEmpty()) {
                endKeys(keys.unusable(openKeys));
            }
            if (!openSessions.isEmpty()) {
                endSessions(signIns.ended(openSessions));
            }
        } catch (RuntimeException e) {
            LOG.warn("checking the keys and sessions of open log streams failed: {}", e.toString());
        }
    }

    private void endKeys(Set<String> keyIds) {
        end(follower -> keyIds.contains(follower.keyId), follower -> "API key " + follower.keyId
                + " was revoked, has expired or was deleted: this stream is closed");
    }

    private void endSessions(Set<String> sessions) {
        end(follower -> follower.session != null && sessions.contains(follower.session),
                follower -> "the dashboard session ended (signed out or expired): this stream is closed");
    }

    /** Ends the matching streams with an {@code unauthorized} error event saying why. */
    private void end(Predicate<Follower> which, Function<Follower, String> why) {
        for (Follower follower : followers) {
            if (which.test(follower)) {
                follower.stream.endWith(Sse.event(null, "error", write(new ErrorBody("unauthorized",
                        why.apply(follower)))));
            }
        }
    }

    /** Ends every stream of a project (it was deleted): what was queued is still sent. */
    public void endProject(String projectId) {
        for (Follower follower : followers) {
            if (follower.feed.projectId.equals(projectId)) {
                follower.stream.end();
            }
        }
    }

    /** Followers connected now (for metrics and tests). */
    public int followers() {
        return followers.size();
    }

    /** How many times the end condition of a stream was read so far (for tests). */
    long endChecks() {
        return endChecks.get();
    }

    @Override
    public void close() {
        ticker.shutdownNow();
        for (Follower follower : followers) {
            follower.stream.end();
        }
        workers.shutdown();
        senders.shutdown();
        try {
            workers.awaitTermination(2, TimeUnit.SECONDS);
            senders.awaitTermination(1, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        workers.shutdownNow();
        senders.shutdownNow();
    }

    /** One project's live tail: reads once per wake-up and fans out to every follower. */
    private final class Feed {
        private final String projectId;
        private final List<Follower> members = new ArrayList<>();
        private final AtomicInteger state = new AtomicInteger(); // 0 idle, 1 running, 2 running and woken again
        private final AutoCloseable subscription;
        /** Every entry of the project up to this id has been fanned out (guarded by this). */
        private long lastId;

        Feed(String projectId, long lastId) {
            this.projectId = projectId;
            this.lastId = lastId;
            this.subscription = store.bus().subscribe(projectId, this::wake);
        }

        synchronized void add(Follower follower) {
            members.add(follower);
        }

        synchronized void remove(Follower follower) {
            members.remove(follower);
        }

        synchronized boolean isEmpty() {
            return members.isEmpty();
        }

        synchronized long lastId() {
            return lastId;
        }

        void closeSubscription() {
            try {
                subscription.close();
            } catch (Exception e) {
                LOG.debug("unsubscribe failed", e);
            }
        }

        /** Schedules one read; wake-ups that arrive meanwhile merge into one more read. */
        void wake() {
            if (state.getAndUpdate(s -> s == 0 ? 1 : 2) == 0) {
                try {
                    workers.execute(this::run);
                } catch (RuntimeException e) {
                    state.set(0); // shutting down
                }
            }
        }

        private void run() {
            do {
                state.set(1);
                try {
                    readAndFanOut();
                } catch (RuntimeException e) {
                    LOG.warn("log feed of {} failed to read: {}", projectId, e.toString());
                }
            } while (!state.compareAndSet(1, 0));
        }

        private void readAndFanOut() {
            while (true) {
                long from;
                synchronized (this) {
                    from = lastId;
                }
                List<LogEntry> entries = store.following(projectId, from, PAGE);
                if (entries.isEmpty()) {
                    return;
                }
                List<Frame> frames = new ArrayList<>(entries.size());
                for (LogEntry entry : entries) {
                    frames.add(new Frame(entry, frame(entry)));
                }
                List<Follower> reached = new ArrayList<>();
                synchronized (this) {
                    for (Follower follower : List.copyOf(members)) {
                        if (follower.deliver(frames)) {
                            reached.add(follower);
                        }
                    }
                    lastId = entries.get(entries.size() - 1).id();
                }
                send(reached);
                if (entries.size() < PAGE) {
                    return;
                }
            }
        }
    }

    /** Writes out the queues of {@code reached}, in slices on the sender threads and this one. */
    private void send(List<Follower> reached) {
        int slices = reached.size() < 64 ? 1 : sendSlices;
        int size = (reached.size() + slices - 1) / slices;
        for (int from = size; from < reached.size(); from += size) {
            List<Follower> slice = reached.subList(from, Math.min(reached.size(), from + size));
            try {
                senders.execute(() -> flushAll(slice));
            } catch (RuntimeException shuttingDown) {
                flushAll(slice);
            }
        }
        flushAll(reached.subList(0, Math.min(size, reached.size())));
    }

    private static void flushAll(List<Follower> followers) {
        for (Follower follower : followers) {
            follower.stream.flush();
            if (follower.ending != null) {
                follower.checkEnd();
            }
        }
    }

    /**
     * The end condition of the streams with one end key: read again only when one of them has
     * seen entries beyond those of the last read, or at an end poll. Once it has answered it stays.
     */
    private final class Ending {
        private final Supplier<String> source;
        /** Followers sharing it (guarded by the {@code endings} map's compute). */
        private int users;
        private String result;
        private long readAtEntry = -1;
        private long readAtTick = -1;

        Ending(Supplier<String> source) {
            this.source = source;
        }

        /** The end data, or null while not ended; {@code seen} is the last entry id the caller knows. */
        synchronized String check(long seen) {
            if (result != null) {
                return result;
            }
            long tick = endTicks.get();
            if (seen <= readAtEntry && tick == readAtTick) {
                return null;
            }
            endChecks.incrementAndGet();
            result = source.get();
            readAtEntry = Math.max(readAtEntry, seen);
            readAtTick = tick;
            return result;
        }
    }

    /** An entry and its encoded SSE frame, shared by every follower it goes to. */
    private record Frame(LogEntry entry, byte[] bytes) {
    }

    /** One client's stream: its filter and how far it has been sent. */
    private final class Follower {
        private final SseStream stream;
        private final String keyId;
        /** The dashboard session it was opened with, or null (a key in a header). */
        private final String session;
        private final LogFilter filter;
        private final String endKey;
        private final Ending ending;
        private final AtomicBoolean left = new AtomicBoolean();
        private final AtomicBoolean endCheckScheduled = new AtomicBoolean();
        private Feed feed;
        /** Every matching entry up to this id has been queued (guarded by this). */
        private long cursor;
        private boolean live;

        Follower(SseStream stream, String keyId, String session, LogFilter filter, long cursor, String endKey,
                 Ending ending) {
            this.stream = stream;
            this.keyId = keyId;
            this.session = session;
            this.filter = filter;
            this.cursor = cursor;
            this.endKey = endKey;
            this.ending = ending;
        }

        /** Queues the frames above the cursor that match; true when any was queued. Feed lock held. */
        synchronized boolean deliver(List<Frame> frames) {
            if (!live) {
                return false;
            }
            boolean any = false;
            for (Frame frame : frames) {
                if (frame.entry().id() <= cursor) {
                    continue;
                }
                cursor = frame.entry().id();
                if (filter.matches(frame.entry())) {
                    if (!stream.enqueue(frame.bytes())) {
                        return false;
                    }
                    any = true;
                }
            }
            return any;
        }

        /** One replay step: a page after the cursor, as much of it as the client's buffer takes. */
        void replay() {
            try {
                replayPages();
            } catch (RuntimeException e) {
                LOG.warn("log replay failed: {}", e.toString());
                stream.abort("replay failed");
            }
        }

        private void replayPages() {
            while (!stream.isClosed()) {
                long from;
                synchronized (this) {
                    from = cursor;
                }
                LogStore.Page page = store.after(feed.projectId, from, filter, PAGE);
                long reached = from;
                for (LogEntry entry : page.entries()) {
                    if (stream.queuedBytes() > stream.budget() / 2) {
                        // The client reads slower than we replay: continue once it has caught up.
                        synchronized (this) {
                            cursor = reached;
                        }
                        stream.whenDrained(() -> workers.execute(this::replay));
                        return;
                    }
                    if (!stream.enqueue(frame(entry))) {
                        return;
                    }
                    reached = entry.id();
                }
                synchronized (this) {
                    cursor = page.scannedTo();
                }
                stream.flush();
                if (page.entries().size() == PAGE) {
                    continue;
                }
                if (turnLive()) {
                    if (ending != null) {
                        checkEnd();
                    }
                    return;
                }
            }
        }

        /** Goes live when the feed has fanned out nothing the replay has not read. */
        private boolean turnLive() {
            synchronized (feed) {
                synchronized (this) {
                    if (feed.lastId <= cursor) {
                        live = true;
                    }
                    return live;
                }
            }
        }

        /** Schedules a check of the end condition (coalesced). */
        void checkEnd() {
            if (endCheckScheduled.compareAndSet(false, true)) {
                try {
                    workers.execute(this::endIfDone);
                } catch (RuntimeException e) {
                    endCheckScheduled.set(false);
                }
            }
        }

        private void endIfDone() {
            endCheckScheduled.set(false);
            long seen;
            synchronized (this) {
                if (!live) {
                    return;
                }
                seen = cursor;
            }
            try {
                String end = ending.check(Math.max(seen, feed.lastId()));
                if (end == null || stream.isClosed()) {
                    return;
                }
                // Read after the end was seen: entries written with it are surely included.
                while (true) {
                    long from;
                    synchronized (this) {
                        from = cursor;
                    }
                    LogStore.Page page = store.after(feed.projectId, from, filter, PAGE);
                    synchronized (this) {
                        for (LogEntry entry : page.entries()) {
                            if (entry.id() > cursor) {
                                cursor = entry.id();
                                stream.enqueue(frame(entry));
                            }
                        }
                    }
                    stream.flush();
                    if (page.entries().size() < PAGE) {
                        break;
                    }
                }
                stream.enqueue(Sse.event(null, "end", end));
                stream.end();
            } catch (RuntimeException e) {
                LOG.warn("log stream end check failed: {}", e.toString());
            }
        }
    }
}
