package dev.karta.server.sessions;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.karta.api.Session;
import dev.karta.server.Config;
import dev.karta.server.Ids;
import dev.karta.server.events.Events;
import dev.karta.server.http.ApiError;
import dev.karta.server.logs.LogSource;
import dev.karta.server.logs.LogStore;
import dev.karta.server.orgs.OrgQuota;
import dev.karta.server.process.Sandbox;
import dev.karta.server.projects.ProjectRecord;
import dev.karta.server.projects.Projects;
import dev.karta.server.store.Database;
import dev.karta.server.store.Threads;
import dev.karta.server.workspaces.Workspaces;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;
import org.jdbi.v3.core.Handle;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Opens, finds, lists and ends sessions, and keeps them tidy: a sweeper ends idle sessions past
 * the idle timeout and puts sessions whose turn was interrupted (its server stopped) back to
 * idle. A session is pinned, when it is created, to the release the project serves then; what
 * happens to the project's pointer later never changes it. Its workspace is prepared after it is
 * created, off the creation path, and released when it ends.
 */
public final class Sessions implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(Sessions.class);

    /** Idle sessions end within the idle timeout; a minute is a fair first wait. */
    private static final Duration RETRY_AFTER = Duration.ofMinutes(1);

    private final Database db;
    private final Projects projects;
    private final LogStore logs;
    private final int maxLivePerOrg;
    private final SessionStore store;
    private final Turns turns;
    private final HarnessProcess harness;
    private final Workspaces workspaces;
    private final Duration idleTimeout;
    private final ScheduledExecutorService sweeper =
            Executors.newSingleThreadScheduledExecutor(Threads.daemon("session-sweeper"));

    public Sessions(Database db, Projects projects, LogStore logs, Workspaces workspaces,
                    Config.SessionSettings settings, Config.Limits limits, ObjectMapper json, Sandbox sandbox,
                    Function<String, Map<String, String>> releaseConfig) {
        this.db = db;
        this.projects = projects;
        this.maxLivePerOrg = limits.maxLiveSessionsPerOrg();
        this.logs = logs;
        this.idleTimeout = settings.idleTimeout();
        this.store = new SessionStore(db, json, settings.idleTimeout());
        this.workspaces = workspaces;
        this.harness = new HarnessProcess(settings, json, sandbox);
        this.turns = new Turns(db, projects, store, logs, workspaces, harness, settings, releaseConfig,
                limits.maxTurnsPerOrg());
    }

    /** Starts the sweeper; it runs a few times per idle timeout (at most every 30 s). */
    public void start() {
        workspaces.start(store::liveAmong);
        long period = Math.max(50, Math.min(idleTimeout.toMillis() / 4, 30_000));
        sweeper.scheduleWithFixedDelay(this::sweep, period, period, TimeUnit.MILLISECONDS);
    }

    /**
     * Ids of the releases of {@code projectId} that live sessions are pinned to: retention must
     * keep their trees.
     */
    public Set<String> pinnedReleaseIds(String projectId) {
        return store.pinnedReleaseIds(projectId);
    }

    /**
     * Live sessions per release for the projects of {@code orgId}, or only for {@code projectId}
     * when it is not null: project id → release number → count (releases without one are absent).
     */
    public Map<String, Map<Integer, Long>> liveByRelease(String orgId, String projectId) {
        return store.liveByRelease(orgId, projectId);
    }

    Turns turns() {
        return turns;
    }

    /** Bytes of the session's workspace on this server; null when it has none here. */
    Long workspaceBytes(String sessionId) {
        return workspaces.bytes(sessionId);
    }

    /**
     * Opens a session on the project's active release; 409 when it has none, 429 when the org
     * already has its limit of live sessions.
     */
    SessionRecord create(String orgId, String projectName, Map<String, String> metadata) {
        ProjectRecord project = projects.require(orgId, projectName);
        if (project.currentReleaseId() == null) {
            throw new ApiError(ApiError.Kind.CONFLICT, "no_active_release", "project '" + projectName
                    + "' has no active release yet: publish or deploy it first");
        }
        String id = Ids.next("sess");
        // One short transaction and no log line: creation is the hot path of a cutover, and SQLite
        // has one writer. The workspace is prepared afterwards, in the background.
        SessionRecord created = db.inTransaction(h -> {
            long now = System.currentTimeMillis();
            OrgQuota.lock(h, orgId);
            if (store.countLive(h, orgId, now) >= maxLivePerOrg) {
                throw ApiError.tooManyRequests("this org has its limit of " + maxLivePerOrg + " live sessions "
                        + "(--max-sessions-per-org): end sessions it no longer needs, or retry when idle ones time out",
                        RETRY_AFTER);
            }
            return insert(h, orgId, project, id, project.currentReleaseId(), false, metadata, now);
        });
        workspaces.prepareSoon(created.id(), created.version(), created.contentDigest());
        return created;
    }

    /**
     * Opens a session on a preview's current release, named by {@code serving} (which resolves it
     * inside the session's transaction, under the project's lock, and refuses an expired preview
     * or one with no release yet); 429 like {@link #create}.
     */
    SessionRecord createOnPreview(String orgId, String projectName, Function<Handle, String> serving,
                                  Map<String, String> metadata) {
        ProjectRecord project = projects.require(orgId, projectName);
        String id = Ids.next("sess");
        SessionRecord created = db.inTransaction(h -> {
            long now = System.currentTimeMillis();
            // The org's lock before the project's (which serving takes), in the order pushes take them.
            OrgQuota.lock(h, orgId);
            String previewReleaseId = serving.apply(h);
            if (store.countLive(h, orgId, now) >= maxLivePerOrg) {
                throw ApiError.tooManyRequests("this org has its limit of " + maxLivePerOrg + " live sessions "
                        + "(--max-sessions-per-org): end sessions it no longer needs, or retry when idle ones time out",
                        RETRY_AFTER);
            }
            return insert(h, orgId, project, id, previewReleaseId, true, metadata, now);
        });
        workspaces.prepareSoon(created.id(), created.version(), created.contentDigest());
        return created;
    }

    /** Inserts a session and records {@code session.created} in the same transaction. */
    private SessionRecord insert(Handle h, String orgId, ProjectRecord project, String id, String releaseId,
                                 boolean preview, Map<String, String> metadata, long now) {
        store.insert(h, id, project.id(), releaseId, preview, metadata, now);
        SessionRecord inserted = store.find(h, project.id(), id).orElseThrow();
        Events.record(h, orgId, project.name(), Events.SESSION_CREATED,
                Events.data("session", Events.data("id", id, "release", inserted.version(), "preview", preview)));
        return inserted;
    }

    SessionRecord get(String orgId, String projectName, String sessionId) {
        ProjectRecord project = projects.require(orgId, projectName);
        return store.find(project.id(), sessionId).orElseThrow(() -> ApiError.notFound("session", sessionId));
    }

    /** The project's newest sessions, as the API shows them but without workspace sizes. */
    public List<Session> newest(ProjectRecord project, int limit) {
        return store.list(project.id(), null, null, limit).stream().map(s -> s.toWire(null)).toList();
    }

    /** The project's sessions, or only those of preview {@code preview} (a name, or null for all). */
    List<SessionRecord> list(String orgId, String projectName, String preview, SessionStatus status, int limit) {
        return store.list(projects.require(orgId, projectName).id(), preview, status, limit);
    }

    /**
     * Ends a session; a turn it is running on this server is stopped. Ending an ended session
     * does nothing.
     */
    void end(String orgId, String projectName, String sessionId) {
        ProjectRecord project = projects.require(orgId, projectName);
        SessionRecord session = store.find(project.id(), sessionId)
                .orElseThrow(() -> ApiError.notFound("session", sessionId));
        if (store.end(project.id(), sessionId, "deleted", System.currentTimeMillis())) {
            turns.cancel(sessionId);
            workspaces.release(sessionId);
            logs.append(project.id(), LogSource.SESSION, null, session.version(), "Session " + sessionId
                    + " ended by request after " + session.turns() + " turn" + (session.turns() == 1 ? "" : "s"));
        }
    }

    private void sweep() {
        try {
            long now = System.currentTimeMillis();
            for (SessionStore.Stale stale : store.timedOut(now)) {
                if (store.endTimedOut(stale.id(), now)) {
                    workspaces.release(stale.id());
                    logs.append(stale.projectId(), LogSource.SESSION, null, stale.version(), "Session " + stale.id()
                            + " ended after " + HarnessProcess.describe(idleTimeout) + " idle");
                }
            }
            for (SessionStore.Stale stale : store.interrupted(now)) {
                if (store.recover(stale, now)) {
                    logs.append(stale.projectId(), LogSource.SESSION, null, stale.version(), "Turn " + stale.turnId()
                            + " of session " + stale.id() + " failed: interrupted (the server running it stopped)");
                }
            }
            workspaces.sweep(store::liveAmong);
        } catch (RuntimeException e) {
            if (Database.isUnreachable(e)) {
                LOG.warn("session sweep: the database is unreachable ({}); will retry", e.toString());
            } else {
                LOG.error("session sweep failed; will retry", e);
            }
        }
    }

    /** Stops the sweeper and every turn running here (their harnesses are killed: they answer 503). */
    @Override
    public void close() {
        sweeper.shutdownNow();
        turns.stopAll(Duration.ofSeconds(10));
        harness.close();
        workspaces.close();
    }
}
