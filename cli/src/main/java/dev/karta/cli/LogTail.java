package dev.karta.cli;

import dev.karta.api.ErrorBody;
import dev.karta.api.LogEntry;
import java.io.IOException;
import java.io.InputStream;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.BiConsumer;
import java.util.function.Consumer;

/**
 * Follows a project's log until {@link #stop()} (docs/logs.md, "CLI contract"). The server
 * replays, then streams {@code log} events whose id is the entry id. When the stream ends or
 * drops (a server restart, the network, a 5xx or 429 answer, or silence longer than three
 * heartbeats) it is reopened after a {@link Backoff} pause that starts at half a second and
 * doubles up to ten, with {@code Last-Event-ID} set to the last entry delivered, so the server
 * sends exactly the entries after it: none is lost or delivered twice. A 400, 401, 403 or 404 ends the tail with
 * that error, as does any failure of the very first connection (a wrong server or project
 * should not look like a quiet log).
 */
final class LogTail {
    private static final Object OPENED = new Object();
    private static final Object END_OF_STREAM = new Object();

    private final ApiClient api;
    private final Duration firstPause;
    private final Duration maxPause;
    private final Duration idleTimeout;
    private final Consumer<String> notice;
    private final CountDownLatch stopped = new CountDownLatch(1);
    private volatile Attempt current;

    LogTail(ApiClient api, Duration firstPause, Duration maxPause, Duration idleTimeout,
            Consumer<String> notice) {
        this.api = api;
        this.firstPause = firstPause;
        this.maxPause = maxPause;
        this.idleTimeout = idleTimeout;
        this.notice = notice;
    }

    /** Pauses of 0.5 s doubling to 10 s; 45 s of silence (three missed heartbeats) counts as a drop. */
    static LogTail standard(ApiClient api, Consumer<String> notice) {
        return new LogTail(api, Duration.ofMillis(500), Duration.ofSeconds(10), Duration.ofSeconds(45), notice);
    }

    /** A failed attempt to open the stream, as the reading thread hands it over. */
    private record Failure(CliError error) {
    }

    /**
     * Passes every entry, with its JSON as the server sent it, to {@code onEntry}, once and in
     * order, until {@link #stop()} is called; then returns. {@code query} is sent on every
     * (re)connection; {@code resumesFromSince} says whether it holds a {@code since}.
     */
    void follow(String project, Map<String, String> query, boolean resumesFromSince,
                BiConsumer<LogEntry, String> onEntry) {
        Long lastId = null;
        boolean everConnected = false;
        boolean reconnecting = false;
        Backoff backoff = new Backoff(firstPause, maxPause);
        while (stopped.getCount() > 0) {
            // Nothing delivered yet: after a 200 the log had no matching entry to replay, so
            // everything after entry 0 is new; a "since" query can simply be asked again.
            Long resumeAfter = lastId != null ? lastId : everConnected && !resumesFromSince ? Long.valueOf(0) : null;
            Attempt attempt = new Attempt(project, query, resumeAfter);
            current = attempt;
            if (stopped.getCount() == 0) {
                attempt.close();
                return;
            }
            attempt.start();
            String dropped;
            try {
                while (true) {
                    Object item = attempt.events.poll(250, TimeUnit.MILLISECONDS);
                    if (stopped.getCount() == 0) {
                        return;
                    }
                    if (item == null) {
                        if (System.nanoTime() - attempt.lastActivity.get() > idleTimeout.toNanos()) {
                            dropped = "no data for " + idleTimeout.toSeconds() + " s";
                            if (!everConnected) {
                                throw CliError.unavailable("Karta at " + api.server() + " did not answer within "
                                        + idleTimeout.toSeconds() + " s");
                            }
                            break;
                        }
                        continue;
                    }
                    if (item == OPENED) {
                        everConnected = true;
                        backoff.succeeded();
                        if (reconnecting) {
                            notice.accept("reconnected" + (lastId == null ? "" : ", resuming after entry " + lastId));
                            reconnecting = false;
                        }
                    } else if (item instanceof Failure failure) {
                        if (!everConnected || !retryable(failure.error())) {
                            throw failure.error();
                        }
                        dropped = failure.error().getMessage();
                        break;
                    } else if (item == END_OF_STREAM) {
                        dropped = "the server closed the stream";
                        break;
                    } else {
                        SseReader.Event event = (SseReader.Event) item;
                        if (event.type().equals("error")) {
                            // The server ended the stream for good (the key was revoked): no reconnecting.
                            throw CliError.ofStreamError(errorBody(event));
                        }
                        if (event.type().equals("log")) {
                            LogEntry entry = decode(event);
                            if (lastId == null || entry.id() > lastId) {
                                onEntry.accept(entry, event.data());
                                lastId = entry.id();
                            }
                        }
                    }
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return;
            } finally {
                attempt.close();
            }
            if (!reconnecting) {
                notice.accept("log stream lost (" + dropped + "); reconnecting…");
                reconnecting = true;
            }
            try {
                if (stopped.await(backoff.failed().toMillis(), TimeUnit.MILLISECONDS)) {
                    return;
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return;
            }
        }
    }

    /** Makes {@link #follow} return soon; safe from any thread, any number of times. */
    void stop() {
        stopped.countDown();
        Attempt attempt = current;
        if (attempt != null) {
            attempt.close();
        }
    }

    /** Worth another try: the server could not be reached, or answered 5xx or 429. */
    static boolean retryable(CliError error) {
        int status = error.httpStatus();
        return status == 0 ? error.kind() == CliError.Kind.UNAVAILABLE : status >= 500 || status == 429;
    }

    private ErrorBody errorBody(SseReader.Event event) {
        try {
            return WireRecords.read(event.data(), ErrorBody.class);
        } catch (IllegalArgumentException e) {
            return null;
        }
    }

    private LogEntry decode(SseReader.Event event) {
        try {
            return WireRecords.read(event.data(), LogEntry.class);
        } catch (IllegalArgumentException e) {
            throw CliError.failed("unexpected log event from the server: " + e.getMessage());
        }
    }

    /**
     * One connection. A daemon thread opens and reads it (a blocked read cannot be timed out
     * through HttpClient's stream) and hands over OPENED, events, a Failure and END_OF_STREAM.
     */
    private final class Attempt {
        final BlockingQueue<Object> events = new LinkedBlockingQueue<>();
        final AtomicLong lastActivity = new AtomicLong(System.nanoTime());
        private final String project;
        private final Map<String, String> query;
        private final Long resumeAfter;
        private final Thread reader;
        private InputStream body;
        private boolean closed;

        Attempt(String project, Map<String, String> query, Long resumeAfter) {
            this.project = project;
            this.query = query;
            this.resumeAfter = resumeAfter;
            this.reader = new Thread(this::read, "karta-log-tail");
            reader.setDaemon(true);
        }

        void start() {
            reader.start();
        }

        private void read() {
            InputStream opened;
            try {
                opened = api.openLogTail(project, query, resumeAfter);
            } catch (CliError e) {
                events.add(new Failure(e));
                return;
            }
            if (!keep(opened)) {
                return;
            }
            lastActivity.set(System.nanoTime());
            events.add(OPENED);
            SseReader.pump(opened, lastActivity, events, END_OF_STREAM);
        }

        /** Holds on to the open stream; false (and closed) when the attempt was abandoned meanwhile. */
        private synchronized boolean keep(InputStream opened) {
            if (closed) {
                closeQuietly(opened);
                return false;
            }
            body = opened;
            return true;
        }

        synchronized void close() {
            closed = true;
            if (body != null) {
                closeQuietly(body);
            }
            reader.interrupt();
        }

        private void closeQuietly(InputStream in) {
            try {
                in.close();
            } catch (IOException ignored) {
                // the connection is being abandoned either way
            }
        }
    }
}
