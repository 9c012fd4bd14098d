package dev.karta.server.http.sse;

import io.javalin.http.Context;
import jakarta.servlet.AsyncContext;
import jakarta.servlet.AsyncEvent;
import jakarta.servlet.AsyncListener;
import jakarta.servlet.ServletOutputStream;
import jakarta.servlet.WriteListener;
import jakarta.servlet.http.HttpServletResponse;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayDeque;
import java.util.concurrent.CompletableFuture;
import org.eclipse.jetty.ee10.servlet.ServletContextRequest;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One client's {@code text/event-stream} response, written with non-blocking servlet IO: no
 * thread ever waits for a client. Frames wait in a queue of at most {@code budget} bytes (frames
 * are shared, immutable byte arrays, so a fan-out copies nothing); a client that lets the queue
 * grow past the budget is disconnected at once rather than slowing anyone else down.
 *
 * <p>Javalin's own SSE support writes with blocking IO and answers an empty 200 unless the
 * request says {@code Accept: text/event-stream}; this class starts the servlet's async mode itself
 * and hands Javalin a future that completes when the stream ends, so the request log, the after
 * handlers and the completion of the response still run through Javalin.
 */
public final class SseStream implements WriteListener, AsyncListener {
    private static final Logger LOG = LoggerFactory.getLogger(SseStream.class);
    public static final byte[] HEARTBEAT = ": ping\n\n".getBytes(StandardCharsets.UTF_8);

    private final AsyncContext async;
    private final ServletOutputStream out;
    private final long budget;
    private final ArrayDeque<byte[]> queue = new ArrayDeque<>();
    private final CompletableFuture<Void> done = new CompletableFuture<>();
    private long queuedBytes;
    private boolean unflushed;
    private boolean ending;
    private boolean closed;
    private Runnable onClose = () -> { };
    private Runnable onDrained;

    private SseStream(AsyncContext async, ServletOutputStream out, long budget) {
        this.async = async;
        this.out = out;
        this.budget = budget;
    }

    /** Answers 200 with SSE headers and switches the request to async, non-blocking writes. */
    public static SseStream start(Context ctx, long budget) throws IOException {
        HttpServletResponse res = ctx.res();
        Sse.startResponse(res);
        AsyncContext async = ctx.req().startAsync();
        async.setTimeout(0);
        SseStream stream = new SseStream(async, res.getOutputStream(), budget);
        async.addListener(stream);
        stream.unflushed = true; // sends the headers on the first write-possible callback
        ctx.future(() -> stream.done);
        stream.out.setWriteListener(stream);
        return stream;
    }

    /** Runs once, when the stream has ended for any reason (now, if it already has). */
    public void onClose(Runnable callback) {
        synchronized (this) {
            if (!closed) {
                this.onClose = callback;
                return;
            }
        }
        callback.run();
    }

    /**
     * Queues a frame; call {@link #flush} after a batch. A frame that would take the queue past
     * the budget disconnects the client instead. Returns false once the stream is closed or ending.
     */
    public boolean enqueue(byte[] frame) {
        for (int attempt = 0; attempt < 2; attempt++) {
            synchronized (this) {
                if (closed || ending) {
                    return false;
                }
                if (queuedBytes + frame.length <= budget) {
                    queue.add(frame);
                    queuedBytes += frame.length;
                    return true;
                }
            }
            // Full: hand what is queued to the connection first; only a client that is not reading stays full.
            flush();
        }
        abort("it fell " + budget + " bytes behind");
        return false;
    }

    /** Bytes queued and not yet handed to the connection. */
    public synchronized long queuedBytes() {
        return queuedBytes;
    }

    public long budget() {
        return budget;
    }

    /** Runs {@code callback} once the queue has been written out (now, if it is empty). */
    public void whenDrained(Runnable callback) {
        synchronized (this) {
            if (closed) {
                return;
            }
            onDrained = callback;
        }
        flush();
    }

    /** Writes out the queue, for as long as the connection takes it without waiting. */
    public void flush() {
        Runnable after = null;
        boolean finished = false;
        boolean failed = false;
        synchronized (this) {
            if (closed) {
                return;
            }
            try {
                while (out.isReady()) {
                    byte[] next = queue.poll();
                    if (next != null) {
                        queuedBytes -= next.length;
                        out.write(next);
                        unflushed = true;
                    } else if (unflushed) {
                        unflushed = false;
                        out.flush();
                    } else {
                        if (ending) {
                            closed = true;
                            finished = true;
                        } else {
                            after = onDrained;
                            onDrained = null;
                        }
                        break;
                    }
                }
            } catch (IOException | RuntimeException e) {
                LOG.debug("SSE write failed: {}", e.toString());
                failed = true;
            }
        }
        if (failed) {
            failed();
        } else if (finished) {
            ended();
            // Javalin resumes its request pipeline (request log, completion) only after a normal end.
            done.complete(null);
        } else if (after != null) {
            after.run();
        }
    }

    /** Ends the stream normally once everything queued is written. */
    public void end() {
        synchronized (this) {
            if (closed || ending) {
                return;
            }
            ending = true;
        }
        flush();
    }

    /**
     * Ends the stream with {@code frame} as its last frame, discarding what is queued and not yet
     * handed to the connection: for a client that may no longer read the rest.
     */
    public void endWith(byte[] frame) {
        synchronized (this) {
            if (closed || ending) {
                return;
            }
            queue.clear();
            queue.add(frame);
            queuedBytes = frame.length;
            ending = true;
        }
        flush();
    }

    /** Drops the connection now, discarding what is queued. */
    public void abort(String why) {
        synchronized (this) {
            if (closed) {
                return;
            }
            closed = true;
            queue.clear();
            queuedBytes = 0;
        }
        LOG.info("disconnecting log stream client: {}", why);
        try {
            ServletContextRequest request = ServletContextRequest.getServletContextRequest(async.getRequest());
            if (request != null) {
                request.getServletChannel().abort(new IOException("log stream client disconnected: " + why));
            } else {
                async.complete();
            }
        } catch (RuntimeException e) {
            LOG.debug("abort failed", e);
        }
        // The request is gone now: Javalin's pipeline must not resume on it, so `done` stays open.
        ended();
    }

    public synchronized boolean isClosed() {
        return closed;
    }

    private void ended() {
        Runnable callback;
        synchronized (this) {
            closed = true;
            callback = onClose;
            onClose = () -> { };
            onDrained = null;
        }
        callback.run();
    }

    /** The client went away or the container gave up: complete the request ourselves. */
    private void failed() {
        synchronized (this) {
            if (closed) {
                return;
            }
            closed = true;
            queue.clear();
            queuedBytes = 0;
        }
        try {
            async.complete();
        } catch (RuntimeException e) {
            LOG.debug("completing a failed stream: {}", e.toString());
        }
        ended();
    }

    @Override
    public void onWritePossible() {
        flush();
    }

    @Override
    public void onError(Throwable t) {
        LOG.debug("SSE client gone: {}", t.toString());
        failed();
    }

    @Override
    public void onComplete(AsyncEvent event) {
        synchronized (this) {
            if (closed) {
                return;
            }
            closed = true;
            queue.clear();
            queuedBytes = 0;
        }
        ended();
    }

    @Override
    public void onTimeout(AsyncEvent event) {
        failed();
    }

    @Override
    public void onError(AsyncEvent event) {
        failed();
    }

    @Override
    public void onStartAsync(AsyncEvent event) {
        // not restarted
    }
}
