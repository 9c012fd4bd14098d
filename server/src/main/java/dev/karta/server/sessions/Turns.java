package dev.karta.server.sessions;

import dev.karta.api.Message;
import dev.karta.api.MessageReply;
import dev.karta.server.Config;
import dev.karta.server.Ids;
import dev.karta.server.http.ApiError;
import dev.karta.server.logs.LogSource;
import dev.karta.server.logs.LogStore;
import dev.karta.server.orgs.OrgQuota;
import dev.karta.server.projects.ProjectRecord;
import dev.karta.server.projects.Projects;
import dev.karta.server.store.Database;
import dev.karta.server.workspaces.Workspaces;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Semaphore;
import java.util.function.Function;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One message, one turn: claim the session in the database (idle → running, so a concurrent
 * message on any server gets 409), run the pinned release's harness in the session's own
 * workspace and HOME (see {@link Workspaces}: its state is restored before and saved after), then
 * record the turn and put the session back to idle, whatever the outcome. Each turn writes a
 * started and a finished (or failed, with the reason) entry to the project's log.
 */
final class Turns {
    private static final Logger LOG = LoggerFactory.getLogger(Turns.class);
    /** A running turn past its timeout by this much is taken as interrupted by another server. */
    private static final Duration RECOVERY_GRACE = Duration.ofMinutes(1);
    /** Turns take seconds to minutes: a short wait before trying again. */
    private static final Duration RETRY_AFTER = Duration.ofSeconds(5);

    /** Hears about a turn as it runs. */
    interface Listener extends HarnessProcess.Listener {
        /** The session was claimed and the harness is about to start. */
        void started(String messageId);
    }

    /** For callers that only want the whole reply. */
    static final Listener QUIET = new Listener() {
        @Override
        public void started(String messageId) {
        }

        @Override
        public void delta(String text) {
        }
    };

    private final Database db;
    private final Projects projects;
    private final SessionStore store;
    private final LogStore logs;
    private final Workspaces workspaces;
    private final HarnessProcess harness;
    private final Config.SessionSettings settings;
    private final Function<String, Map<String, String>> releaseConfig;
    private final Semaphore slots;
    private final int maxRunningPerOrg;
    /**
     * The turns of this server, each with its session id, from before the session is claimed until
     * the turn has recorded its end: a session ended at any point after its claim finds its turn
     * here. A message refused by the claim (409) is here only for that moment; cancelling it then
     * changes nothing.
     */
    private final Map<HarnessProcess.Cancellation, String> running = new ConcurrentHashMap<>();
    /** Test seam: runs with the session id once the session is claimed, before the harness starts. */
    volatile java.util.function.Consumer<String> afterClaim = sessionId -> {
    };

    Turns(Database db, Projects projects, SessionStore store, LogStore logs, Workspaces workspaces, HarnessProcess harness,
          Config.SessionSettings settings, Function<String, Map<String, String>> releaseConfig, int maxRunningPerOrg) {
        this.db = db;
        this.projects = projects;
        this.store = store;
        this.logs = logs;
        this.workspaces = workspaces;
        this.harness = harness;
        this.settings = settings;
        this.releaseConfig = releaseConfig;
        this.slots = new Semaphore(settings.maxConcurrentTurns());
        this.maxRunningPerOrg = maxRunningPerOrg;
    }

    /** Rejects a message text the harness could not be given: 400 or 413. */
    void validate(String text) {
        if (text == null || text.isBlank()) {
            throw ApiError.badRequest("text is required: send {\"text\":\"…\"}");
        }
        if (text.indexOf('\0') >= 0) {
            throw ApiError.badRequest("text must not contain NUL characters");
        }
        int bytes = text.getBytes(StandardCharsets.UTF_8).length;
        if (bytes > settings.maxMessageBytes()) {
            throw new ApiError(ApiError.Kind.TOO_LARGE, "message_too_large", "message text is " + bytes
                    + " bytes; the limit is " + settings.maxMessageBytes() + " bytes (UTF-8)");
        }
    }

    /** Runs one turn and answers the reply; failures are thrown as {@link ApiError}s. */
    MessageReply send(String orgId, String projectName, String sessionId, String text, Listener listener) {
        validate(text);
        ProjectRecord project = projects.require(orgId, projectName);
        workspaces.checkQuota(sessionId);
        if (!slots.tryAcquire()) {
            throw ApiError.unavailable("this server is running its limit of " + settings.maxConcurrentTurns()
                    + " turns at once (--max-concurrent-turns); retry shortly");
        }
        HarnessProcess.Cancellation cancellation = new HarnessProcess.Cancellation();
        running.put(cancellation, sessionId);
        try {
            String turnId = Ids.next("msg");
            SessionRecord session = claim(project, sessionId, turnId);
            afterClaim.accept(sessionId);
            return run(session, turnId, text, listener, cancellation);
        } finally {
            synchronized (running) {
                running.remove(cancellation);
                running.notifyAll();
            }
            slots.release();
        }
    }

    private SessionRecord claim(ProjectRecord project, String sessionId, String turnId) {
        long now = System.currentTimeMillis();
        long deadline = now + settings.turnTimeout().plus(RECOVERY_GRACE).toMillis();
        return db.inTransaction(h -> {
            OrgQuota.lock(h, project.orgId());
            SessionRecord session = store.find(h, project.id(), sessionId)
                    .orElseThrow(() -> ApiError.notFound("session", sessionId));
            if (!store.claim(h, sessionId, turnId, now, deadline)) {
                SessionRecord current = store.find(h, project.id(), sessionId).orElse(session);
                if (current.status() == SessionStatus.RUNNING) {
                    throw new ApiError(ApiError.Kind.CONFLICT, "turn_in_progress", "session " + sessionId
                            + " is already running a turn; send the next message when it has answered");
                }
                throw new ApiError(ApiError.Kind.CONFLICT, "session_ended", "session " + sessionId + " has ended ("
                        + current.endReason() + "); open a new session");
            }
            // Counted after the claim, which rolls back with the transaction: a session already
            // running or ended answers 409 whatever the org's count.
            if (store.countRunning(h, project.orgId(), now) > maxRunningPerOrg) {
                throw ApiError.tooManyRequests("this org is running its limit of " + maxRunningPerOrg
                        + " turns at once (--max-turns-per-org); retry when one has answered", RETRY_AFTER);
            }
            store.insertTurn(h, turnId, sessionId, project.id(), now);
            return session;
        });
    }

    private MessageReply run(SessionRecord session, String turnId, String text, Listener listener,
                             HarnessProcess.Cancellation cancellation) {
        String what = "Turn " + turnId + " of session " + session.id();
        long started = System.nanoTime();
        HarnessProcess.Answer answer = null;
        TurnFailed failure = null;
        String status = "failed";
        String error = "internal error";
        try {
            logs.append(session.projectId(), LogSource.SESSION, null, session.version(),
                    what + " started (" + session.harness() + ")");
            listener.started(turnId);
            if (cancellation.reason() != null) {
                throw cancellation.reason(); // ended (or the server stopping) before the harness started
            }
            try (Workspaces.Lease workspace = workspaces.open(session.id(), session.projectId(), session.version(),
                    session.contentDigest())) {
                if (cancellation.reason() != null) {
                    throw cancellation.reason(); // ended while the workspace was being prepared
                }
                answer = harness.run(Harness.of(session.harness()), workspace.confinement(), config(session), text,
                        session.harnessSessionId(), listener, cancellation);
            } catch (Workspaces.Unavailable e) {
                throw new TurnFailed(TurnFailed.Kind.WORKSPACE_UNAVAILABLE, e.getMessage());
            }
            status = "completed";
            error = null;
        } catch (TurnFailed e) {
            failure = e;
            status = e.turnStatus();
            error = e.getMessage();
        } finally {
            long ms = (System.nanoTime() - started) / 1_000_000;
            store.finishTurn(session.id(), turnId, answer == null ? null : answer.conversationId(), status, error,
                    System.currentTimeMillis());
            String outcome = error == null ? " finished in " + ms + " ms" : " failed after " + ms + " ms: " + error;
            try {
                logs.append(session.projectId(), LogSource.SESSION, null, session.version(), what + outcome);
            } catch (RuntimeException e) {
                LOG.warn("could not log the end of {} (project deleted meanwhile?): {}", turnId, e.toString());
            }
        }
        if (failure != null) {
            throw failure.toApiError();
        }
        return new MessageReply(new Message(turnId, "assistant", answer.text()));
    }

    /**
     * The config vars of the release the session is pinned to (not the project's current ones),
     * decrypted now, just before the harness starts, and kept nowhere else.
     */
    private Map<String, String> config(SessionRecord session) throws TurnFailed {
        try {
            return releaseConfig.apply(session.releaseId());
        } catch (RuntimeException e) {
            LOG.error("the config vars of release {} cannot be read: {}", session.releaseId(), e.getMessage());
            throw TurnFailed.failed("the config vars of " + session.version() + " cannot be read on this server; "
                    + "tell its operator (the secrets key file may have been replaced)");
        }
    }

    /** Stops the turn a session runs on this server, if any: it answers 409 session_ended. */
    void cancel(String sessionId) {
        running.forEach((cancellation, session) -> {
            if (session.equals(sessionId)) {
                cancellation.cancel(new TurnFailed(TurnFailed.Kind.SESSION_ENDED,
                        "the session was ended while this turn was running; the harness was stopped"));
            }
        });
    }

    /**
     * Stops every turn this server runs (it is shutting down) and waits, up to {@code patience},
     * until they have recorded their end: their sessions are idle again before the database
     * closes, and no harness outlives the server.
     */
    void stopAll(Duration patience) {
        running.keySet().forEach(c -> c.cancel(new TurnFailed(TurnFailed.Kind.SERVER_STOPPING,
                "the server is stopping; the harness was stopped; retry the message")));
        long deadline = System.nanoTime() + patience.toNanos();
        synchronized (running) {
            while (!running.isEmpty() && System.nanoTime() < deadline) {
                try {
                    running.wait(Math.max(1, (deadline - System.nanoTime()) / 1_000_000));
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    return;
                }
            }
        }
    }
}
