package dev.karta.cli;

import dev.karta.api.Deploy;
import dev.karta.api.ErrorBody;
import dev.karta.api.LogEntry;
import java.io.IOException;
import java.io.InputStream;
import java.time.Duration;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Consumer;

/**
 * Follows the build log of one deploy until the deploy ends. The log is a server-sent event
 * stream of {@code log} events (id = entry id, data = a {@link LogEntry}) closed by one
 * {@code end} event whose data is the finished {@link Deploy}. A stream that drops, or stays
 * silent longer than the idle timeout (the server sends heartbeats), is reopened with
 * {@code Last-Event-ID} so no line is lost or shown twice, after a {@link Backoff} pause; after too
 * many failed attempts in a row the deploy is polled until its status is terminal.
 */
final class BuildLog {
    private static final Object END_OF_STREAM = new Object();

    private final ApiClient api;
    private final int maxReconnects;
    private final Duration retryDelay;
    private final Duration maxRetryDelay;
    private final Duration pollInterval;
    private final Duration idleTimeout;
    private final Consumer<String> notice;

    BuildLog(ApiClient api, int maxReconnects, Duration retryDelay, Duration pollInterval,
             Duration idleTimeout, Consumer<String> notice) {
        this.api = api;
        this.maxReconnects = maxReconnects;
        this.retryDelay = retryDelay;
        this.maxRetryDelay = retryDelay.multipliedBy(Math.max(1, maxReconnects));
        this.pollInterval = pollInterval;
        this.idleTimeout = idleTimeout;
        this.notice = notice;
    }

    /**
     * Five reconnects after pauses of 1 s doubling up to 5 s, then polling every two seconds; 60 s of
     * silence at most.
     */
    static BuildLog standard(ApiClient api, Consumer<String> notice) {
        return new BuildLog(api, 5, Duration.ofSeconds(1), Duration.ofSeconds(2), Duration.ofSeconds(60), notice);
    }

    /** Where the stream got to: the last entry shown, and whether the last attempt showed one. */
    private static final class Cursor {
        Long lastId;
        boolean progressed;
    }

    /** Passes each log entry to {@code onEntry}, once and in order, and returns the finished deploy. */
    Deploy follow(String project, String deployId, Consumer<LogEntry> onEntry) {
        Cursor cursor = new Cursor();
        Backoff backoff = new Backoff(retryDelay, maxRetryDelay);
        while (true) {
            cursor.progressed = false;
            try {
                Deploy finished = stream(project, deployId, cursor, onEntry);
                if (finished != null) {
                    return finished;
                }
            } catch (CliError e) {
                if (e.kind() != CliError.Kind.UNAVAILABLE) {
                    throw e;
                }
            }
            if (cursor.progressed) {
                backoff.succeeded();
            }
            Duration pause = backoff.failed();
            if (backoff.failures() > maxReconnects) {
                break;
            }
            pause(pause);
        }
        notice.accept("lost the build log stream; waiting for deploy " + deployId + " to finish…");
        return poll(project, deployId);
    }

    /** One connection: the finished deploy when {@code end} arrived, null when the stream dropped. */
    private Deploy stream(String project, String deployId, Cursor cursor, Consumer<LogEntry> onEntry) {
        InputStream body = api.openDeployLog(project, deployId, cursor.lastId);
        AtomicLong lastActivity = new AtomicLong(System.nanoTime());
        BlockingQueue<Object> events = new LinkedBlockingQueue<>();
        // A blocked read cannot be timed out through HttpClient's stream, so a daemon thread reads
        // and this one waits on the queue with the idle timeout.
        Thread reader = new Thread(() -> SseReader.pump(body, lastActivity, events, END_OF_STREAM), "karta-build-log");
        reader.setDaemon(true);
        reader.start();
        try {
            while (true) {
                Object item = events.poll(250, TimeUnit.MILLISECONDS);
                if (item == null) {
                    if (System.nanoTime() - lastActivity.get() > idleTimeout.toNanos()) {
                        return null;
                    }
                    continue;
                }
                if (item == END_OF_STREAM) {
                    return null;
                }
                SseReader.Event event = (SseReader.Event) item;
                if (event.type().equals("end")) {
                    return decode(event, Deploy.class);
                }
                if (event.type().equals("error")) {
                    // The server ended the stream for good (the key was revoked): no reconnecting.
                    throw CliError.ofStreamError(decode(event, ErrorBody.class));
                }
                if (event.type().equals("log")) {
                    LogEntry entry = decode(event, LogEntry.class);
                    if (cursor.lastId == null || entry.id() > cursor.lastId) {
                        onEntry.accept(entry);
                        cursor.lastId = entry.id();
                        cursor.progressed = true;
                    }
                }
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw CliError.failed("interrupted");
        } finally {
            try {
                body.close();
            } catch (IOException ignored) {
                // the connection is being abandoned either way
            }
            reader.interrupt();
        }
    }

    private Deploy poll(String project, String deployId) {
        int failures = 0;
        while (true) {
            try {
                Deploy deploy = api.deployStatus(project, deployId).value();
                if (deploy.status() != null && deploy.isFinished()) {
                    return deploy;
                }
                failures = 0;
            } catch (CliError e) {
                if (e.kind() != CliError.Kind.UNAVAILABLE || ++failures > maxReconnects) {
                    throw e;
                }
            }
            pause(pollInterval);
        }
    }

    private <T> T decode(SseReader.Event event, Class<T> type) {
        try {
            return WireRecords.read(event.data(), type);
        } catch (IllegalArgumentException e) {
            throw CliError.failed("unexpected build log event '" + event.type() + "' from the server: "
                    + e.getMessage());
        }
    }

    private static void pause(Duration duration) {
        try {
            Thread.sleep(duration.toMillis());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw CliError.failed("interrupted");
        }
    }
}
