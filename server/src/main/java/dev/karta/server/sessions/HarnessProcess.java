package dev.karta.server.sessions;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.karta.server.Config;
import dev.karta.server.process.Child;
import dev.karta.server.process.Confinement;
import dev.karta.server.process.ProcessLauncher;
import dev.karta.server.process.Sandbox;
import dev.karta.server.store.Threads;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Locale;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.regex.Pattern;

/**
 * Runs the harness of one turn: an argv list (never a shell) in its session's {@link
 * Confinement}, through the {@link Sandbox}, with only the configured environment, the message
 * text written to its stdin (then closed) from a thread of its own, so a harness that never reads
 * it cannot block the turn. Stdout is cut into lines (the whole output bounded by {@code
 * maxTurnOutputBytes}) and each JSON line mapped to events by the {@link Harness}; the tail of
 * stderr is kept, stripped of terminal control sequences, for error messages. The reply is the
 * text parts the harness printed joined by a blank line, and the deltas a listener gets add up to
 * exactly that text. A harness whose output has a final event (Claude Code's {@code result}) ends
 * its turn there, even if it or a child it left behind keeps running or holding stdout. Whatever
 * happens (answer, failure, timeout, cancellation), the harness and every process it started are
 * killed before this returns (see {@link ProcessLauncher}).
 */
final class HarnessProcess implements AutoCloseable {
    private static final long HEARTBEAT_NANOS = TimeUnit.SECONDS.toNanos(15);
    private static final int QUOTE = 200;
    /** What a conversation id the harness reports must look like to be passed back to it on the next turn. */
    static final Pattern CONVERSATION_ID = Pattern.compile("[A-Za-z0-9][A-Za-z0-9_.-]{0,199}");
    /** How long a harness may take to exit by itself after its final event before it is killed. */
    private static final long EXIT_GRACE_MS = 1000;
    /**
     * Terminal escape sequences: OSC (ESC ] … ended by BEL or ESC \, or by the end of the text)
     * and CSI (ESC [ parameters, intermediates, final byte), their one-byte C1 forms, and the
     * other ESC sequences (ESC, intermediates, final byte: {@code ESC ( B}, {@code ESC c}).
     */
    private static final Pattern ESCAPE_SEQUENCE = Pattern.compile(
            "(?:\\x1B\\]|\\x9D)[^\\x07\\x1B\\x9C]*(?:\\x07|\\x1B\\\\|\\x9C)?"
                    + "|(?:\\x1B\\[|\\x9B)[0-?]*[ -/]*[@-~]?"
                    + "|\\x1B[ -/]*[0-~]?");
    /** Control characters left once the sequences are gone, but tab and line feed. */
    private static final Pattern CONTROL = Pattern.compile("[\\x00-\\x08\\x0B-\\x1F\\x7F-\\x9F]");

    /** A finished reply and the harness's conversation id (null when it reported none). */
    record Answer(String text, String conversationId) {
    }

    /** Receives the reply as it is produced. Called on the thread that runs the turn. */
    interface Listener {
        void delta(String text);

        /** The harness reports progress while no text comes (an API retry), worded for a person. */
        default void progress(String message) {
        }

        /** Nothing happened for a while; streaming callers send a heartbeat. */
        default void waiting() {
        }
    }

    /**
     * Lets another thread stop a running turn (its session was ended, the server is stopping);
     * the turn then fails with the given reason.
     */
    static final class Cancellation {
        private Runnable onCancel;
        private TurnFailed reason;

        synchronized void cancel(TurnFailed why) {
            if (reason != null) {
                return;
            }
            reason = why;
            if (onCancel != null) {
                onCancel.run();
            }
        }

        synchronized TurnFailed reason() {
            return reason;
        }

        synchronized void onCancel(Runnable action) {
            onCancel = action;
            if (reason != null) {
                action.run();
            }
        }
    }

    /** What the stdout pump hands the turn thread. */
    private sealed interface Signal {
        record Line(JsonNode json) implements Signal {
        }

        record Garbage(String text) implements Signal {
        }

        record Overflow(long limit) implements Signal {
        }

        record ReadFailed(String reason) implements Signal {
        }

        record End() implements Signal {
        }

        record Cancelled() implements Signal {
        }
    }

    private final Config.SessionSettings settings;
    private final ObjectMapper json;
    private final Sandbox sandbox;
    private final ExecutorService pumps = Executors.newCachedThreadPool(Threads.daemon("harness-io"));

    HarnessProcess(Config.SessionSettings settings, ObjectMapper json, Sandbox sandbox) {
        this.settings = settings;
        this.json = json;
        this.sandbox = sandbox;
    }

    String executable(Harness harness) {
        return harness.name().equals("claude") ? settings.claudeExecutable() : settings.opencodeExecutable();
    }

    /** Runs one turn to its end; see the class comment for what is guaranteed on return. */
    Answer run(Harness harness, Confinement confinement, Map<String, String> config, String text,
               String conversationId, Listener listener, Cancellation cancellation) throws TurnFailed {
        String executable = executable(harness);
        List<String> argv = harness.argv(executable, conversationId);
        Child child;
        try {
            child = sandbox.start(new ProcessLauncher.Command(argv, confinement.workspace(), settings.harnessEnvironment(),
                    config), confinement);
        } catch (IOException e) {
            if (Thread.currentThread().isInterrupted()) {
                throw new TurnFailed(TurnFailed.Kind.SERVER_STOPPING, "the server is stopping; retry the message");
            }
            throw TurnFailed.failed("could not start " + harness.name() + " ('" + executable + "'): "
                    + startFailure(e) + "; set --harness-" + harness.name() + " (KARTA_HARNESS_"
                    + harness.name().toUpperCase(Locale.ROOT) + ") to its path");
        }
        Process process = child.process();
        try {
            BlockingQueue<Signal> signals = new LinkedBlockingQueue<>();
            StderrTail stderr = new StderrTail();
            pumps.execute(() -> feed(process, text));
            pumps.execute(() -> pump(process.getInputStream(), signals));
            pumps.execute(() -> stderr.drain(process.getErrorStream()));
            cancellation.onCancel(() -> signals.add(new Signal.Cancelled()));
            return await(harness, conversationId != null, process, signals, stderr, listener, cancellation);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new TurnFailed(TurnFailed.Kind.SERVER_STOPPING, "the server is stopping; retry the message");
        } finally {
            child.kill();
        }
    }

    /**
     * Writes the message to the harness's stdin and closes it; runs on a pump thread. A harness
     * that exits or closes stdin before reading it all makes the write fail: its output and exit
     * status tell what happened, and a blocked write ends when the harness is killed.
     */
    private static void feed(Process process, String text) {
        try (OutputStream stdin = process.getOutputStream()) {
            stdin.write(text.getBytes(StandardCharsets.UTF_8));
        } catch (IOException e) {
            // See above: nothing to add to what the turn reports.
        }
    }

    private Answer await(Harness harness, boolean resumed, Process process, BlockingQueue<Signal> signals,
                         StderrTail stderr, Listener listener, Cancellation cancellation)
            throws InterruptedException, TurnFailed {
        long deadline = System.nanoTime() + settings.turnTimeout().toNanos();
        Transcript transcript = new Transcript(harness, resumed);
        Harness.Reader reader = harness.reader();
        boolean ended = false;
        while (!ended) {
            long left = deadline - System.nanoTime();
            if (left <= 0) {
                throw timedOut(harness);
            }
            Signal signal = signals.poll(Math.min(left, HEARTBEAT_NANOS), TimeUnit.NANOSECONDS);
            if (signal == null) {
                listener.waiting();
                continue;
            }
            if (signal instanceof Signal.Line line) {
                for (HarnessEvent event : reader.read(line.json())) {
                    transcript.accept(event, listener);
                }
                if (harness.endsTurn(line.json())) {
                    return finishAfterFinalEvent(process, transcript, stderr);
                }
            } else if (signal instanceof Signal.Garbage garbage) {
                transcript.garbage(garbage.text());
            } else if (signal instanceof Signal.Overflow overflow) {
                throw TurnFailed.failed(harness.name() + " printed more than " + overflow.limit()
                        + " bytes in one turn (the turn output limit); it was stopped");
            } else if (signal instanceof Signal.ReadFailed failed) {
                throw TurnFailed.failed("could not read the output of " + harness.name() + ": " + failed.reason());
            } else if (signal instanceof Signal.Cancelled) {
                throw cancellation.reason();
            } else {
                ended = true;
            }
        }
        if (!process.waitFor(Math.max(0, deadline - System.nanoTime()), TimeUnit.NANOSECONDS)) {
            throw timedOut(harness);
        }
        return transcript.finish(process.exitValue(), stderr.text());
    }

    /**
     * The harness printed the event that ends its turn: the reply is complete. It gets a moment
     * to exit by itself (its exit status still counts), then the turn ends whatever it or its
     * children still do; the caller kills them all.
     */
    private static Answer finishAfterFinalEvent(Process process, Transcript transcript, StderrTail stderr)
            throws InterruptedException, TurnFailed {
        boolean exited = process.waitFor(EXIT_GRACE_MS, TimeUnit.MILLISECONDS);
        return transcript.finish(exited ? process.exitValue() : 0, stderr.text());
    }

    private TurnFailed timedOut(Harness harness) {
        return new TurnFailed(TurnFailed.Kind.HARNESS_TIMEOUT, harness.name() + " did not finish within "
                + describe(settings.turnTimeout()) + " (the turn timeout); it was stopped with its child processes");
    }

    /** Cuts stdout into lines, bounded in total, and parses each; runs on a pump thread. */
    private void pump(InputStream stdout, BlockingQueue<Signal> signals) {
        long limit = settings.maxTurnOutputBytes();
        long total = 0;
        byte[] buffer = new byte[8192];
        ByteArrayOutputStream line = new ByteArrayOutputStream();
        try (InputStream in = stdout) {
            int n;
            while ((n = in.read(buffer)) >= 0) {
                total += n;
                if (total > limit) {
                    signals.add(new Signal.Overflow(limit));
                    return;
                }
                int start = 0;
                for (int i = 0; i < n; i++) {
                    if (buffer[i] == '\n') {
                        line.write(buffer, start, i - start);
                        emit(line, signals);
                        start = i + 1;
                    }
                }
                line.write(buffer, start, n - start);
            }
            emit(line, signals);
            signals.add(new Signal.End());
        } catch (IOException e) {
            signals.add(new Signal.ReadFailed(e.getMessage()));
        }
    }

    private void emit(ByteArrayOutputStream line, BlockingQueue<Signal> signals) {
        String text = line.toString(StandardCharsets.UTF_8).strip();
        line.reset();
        if (text.isEmpty()) {
            return;
        }
        try {
            JsonNode node = json.readTree(text);
            signals.add(node != null && node.isObject() ? new Signal.Line(node) : new Signal.Garbage(text));
        } catch (JsonProcessingException e) {
            signals.add(new Signal.Garbage(text));
        }
    }

    /**
     * The reply being assembled from one turn's events: its text parts joined by
     * {@link #PART_SEPARATOR}, the separator sent with the first delta of the next part, so what
     * the listener got adds up to the reply exactly.
     */
    private static final class Transcript {
        private static final String PART_SEPARATOR = "\n\n";
        private final Harness harness;
        private final boolean resumed;
        private final StringBuilder reply = new StringBuilder();
        private boolean newPart;
        private boolean complete;
        private String conversation;
        private HarnessEvent.Failure failure;
        private String firstGarbage;

        Transcript(Harness harness, boolean resumed) {
            this.harness = harness;
            this.resumed = resumed;
        }

        void accept(HarnessEvent event, Listener listener) {
            if (event instanceof HarnessEvent.Delta delta) {
                if (delta.text().isEmpty()) {
                    return;
                }
                String text = newPart && !reply.isEmpty() ? PART_SEPARATOR + delta.text() : delta.text();
                newPart = false;
                reply.append(text);
                listener.delta(text);
            } else if (event instanceof HarnessEvent.NewPart) {
                newPart = true;
            } else if (event instanceof HarnessEvent.Conversation c && CONVERSATION_ID.matcher(c.id()).matches()) {
                // Anything else (an option-like "-x", a path) is never handed back as --resume or --session.
                conversation = c.id();
            } else if (event instanceof HarnessEvent.Result) {
                complete = true;
            } else if (event instanceof HarnessEvent.Progress progress) {
                listener.progress(quote(progress.message(), QUOTE));
            } else if (event instanceof HarnessEvent.Failure f && failure == null) {
                failure = f;
            }
        }

        void garbage(String text) {
            if (firstGarbage == null) {
                firstGarbage = text;
            }
        }

        Answer finish(int exitCode, String stderr) throws TurnFailed {
            if (failure != null) {
                if (resumed && failure.conversationLost()) {
                    throw stateLost(failure.message());
                }
                throw TurnFailed.failed(quote(failure.message(), 500));
            }
            if (exitCode != 0 && resumed && harness.saysConversationLost(stderr)) {
                throw stateLost(harness.name() + " exited with status " + exitCode + ": " + stderr);
            }
            if (exitCode != 0) {
                throw TurnFailed.failed(harness.name() + " exited with status " + exitCode
                        + (stderr.isBlank() ? "" : "; stderr ends: " + quote(stderr, QUOTE)) + garbageNote());
            }
            if (!complete) {
                throw TurnFailed.failed(harness.name() + " ended without a " + harness.completionEvent() + " event"
                        + garbageNote());
            }
            return new Answer(reply.toString(), conversation);
        }

        /** The harness cannot resume this session's conversation: it no longer has its state. */
        private TurnFailed stateLost(String detail) {
            return new TurnFailed(TurnFailed.Kind.SESSION_STATE_LOST, harness.name()
                    + " cannot resume this session's conversation, its saved state is gone ("
                    + quote(detail, QUOTE) + "); open a new session");
        }

        private String garbageNote() {
            return firstGarbage == null ? "" : "; its output is not " + harness.name() + " JSON lines, e.g. '"
                    + quote(firstGarbage, QUOTE) + "'";
        }
    }

    /** The last few KiB a process wrote on stderr. */
    private static final class StderrTail {
        private static final int KEEP = 4096;
        private final byte[] tail = new byte[KEEP];
        private int length;

        void drain(InputStream stderr) {
            byte[] buffer = new byte[4096];
            try (InputStream in = stderr) {
                int n;
                while ((n = in.read(buffer)) >= 0) {
                    append(buffer, n);
                }
            } catch (IOException e) {
                // The harness was killed while writing; what was kept is all there is.
            }
        }

        private synchronized void append(byte[] bytes, int n) {
            if (n >= KEEP) {
                System.arraycopy(bytes, n - KEEP, tail, 0, KEEP);
                length = KEEP;
                return;
            }
            int keep = Math.min(length, KEEP - n);
            System.arraycopy(tail, length - keep, tail, 0, keep);
            System.arraycopy(bytes, 0, tail, keep, n);
            length = keep + n;
        }

        /** The tail as text, without terminal control sequences. */
        synchronized String text() {
            return plain(new String(tail, 0, length, StandardCharsets.UTF_8)).strip();
        }
    }

    private static String startFailure(IOException e) {
        String message = String.valueOf(e.getMessage());
        int error = message.indexOf("error=");
        if (error >= 0) {
            int comma = message.indexOf(", ", error);
            return comma >= 0 ? message.substring(comma + 2) : message.substring(error);
        }
        return message;
    }

    /** At most {@code max} characters of {@code text}, on one line, without control characters. */
    static String quote(String text, int max) {
        String flat = plain(text).replaceAll("\\s+", " ").strip();
        return flat.length() <= max ? flat : flat.substring(0, max) + "…";
    }

    /**
     * {@code text} as a harness printed it minus what a terminal would act on: colour, cursor
     * moves, titles, bells. Harnesses colour their errors (OpenCode's {@code Error:}), and error
     * messages are shown in terminals and logs.
     */
    static String plain(String text) {
        String withoutSequences = ESCAPE_SEQUENCE.matcher(text).replaceAll("");
        return CONTROL.matcher(withoutSequences.replace("\r\n", "\n").replace('\r', '\n')).replaceAll("");
    }

    static String describe(Duration duration) {
        long ms = duration.toMillis();
        if (ms % 60_000 == 0) {
            return ms / 60_000 + "m";
        }
        return ms % 1000 == 0 ? ms / 1000 + "s" : ms + "ms";
    }

    @Override
    public void close() {
        pumps.shutdownNow();
    }
}
