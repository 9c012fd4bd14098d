package dev.karta.server.previews;

import dev.karta.api.Commits;
import dev.karta.api.Preview;
import dev.karta.server.Ids;
import dev.karta.server.audit.AuditLog;
import dev.karta.server.build.BuildFailed;
import dev.karta.server.build.Detection;
import dev.karta.server.build.ReleaseFiles;
import dev.karta.server.build.Tree;
import dev.karta.server.deploys.DeployRecord;
import dev.karta.server.deploys.DeploySource;
import dev.karta.server.deploys.DeployStatus;
import dev.karta.server.deploys.DeployStore;
import dev.karta.server.events.Events;
import dev.karta.server.http.Actor;
import dev.karta.server.http.ApiError;
import dev.karta.server.logs.LogSource;
import dev.karta.server.logs.LogStore;
import dev.karta.server.orgs.OrgQuota;
import dev.karta.server.projects.ProjectRecord;
import dev.karta.server.projects.ProjectStore;
import dev.karta.server.releases.ReleaseStore;
import dev.karta.server.releases.Releases;
import dev.karta.server.releases.Retention;
import dev.karta.server.releases.SealedConfig;
import dev.karta.server.store.Database;
import dev.karta.server.store.Threads;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.function.BiConsumer;
import java.util.function.Supplier;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.jdbi.v3.core.Handle;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The preview lines of projects. A push (a {@code pull_request} webhook or {@code POST …/previews})
 * opens the preview, or moves it to the new commit, and queues its build in the project's build
 * queue, in one transaction that also expires the least recently pushed previews beyond the cap.
 * A finished build becomes the preview's next release ({@code pr-42.3}) with the project's config
 * vars as of then, and moves only the preview's own pointer. Previews expire when their pull
 * request closes, when deleted, past the TTL without a push (a periodic sweep that each replica
 * runs; each expiry is a conditional update, so two replicas expire a preview once), or over the
 * cap. Expired previews refuse new sessions; their trees go back to retention once no live
 * session runs them.
 */
public final class Previews implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(Previews.class);
    private static final Pattern NAME = Pattern.compile("pr-([1-9][0-9]{0,8})");
    private static final Pattern SHA = Pattern.compile("[0-9a-f]{4,40}");
    /** The largest pull request number a preview name takes (GitHub's are far smaller). */
    static final int MAX_PR_NUMBER = 999_999_999;
    private static final Duration RETRY_AFTER = Duration.ofSeconds(30);

    /** Operator settings: TTL since the last push, live previews per project, queued deploys per org. */
    public record Settings(Duration ttl, int maxPerProject, int maxQueuedPerOrg, Duration sweepEvery) {
        public Settings {
            if (ttl.isNegative() || ttl.isZero()) {
                throw new IllegalArgumentException("--preview-ttl must be positive");
            }
            if (maxPerProject < 1) {
                throw new IllegalArgumentException("--max-previews must be at least 1");
            }
        }
    }

    /** What a push did: the preview after it, and the build it queued. */
    public record Pushed(Preview preview, String deployId) {
    }

    private final Database db;
    private final PreviewStore store;
    private final ProjectStore projects;
    private final DeployStore deploys;
    private final Releases releases;
    private final Retention retention;
    private final ReleaseFiles files;
    private final AuditLog audit;
    private final LogStore logs;
    private final CommitStatuses statuses;
    private final Runnable wakeBuilders;
    private final Supplier<String> publicUrl;
    private final Settings settings;
    private final Clock clock;
    private final ScheduledExecutorService sweeper =
            Executors.newSingleThreadScheduledExecutor(Threads.daemon("preview-expiry"));

    public Previews(Database db, ProjectStore projects, DeployStore deploys, Releases releases, Retention retention,
                    ReleaseFiles files, AuditLog audit, LogStore logs, CommitStatuses statuses, Runnable wakeBuilders,
                    Supplier<String> publicUrl, Settings settings, Clock clock) {
        this.db = db;
        this.store = new PreviewStore(db);
        this.projects = projects;
        this.deploys = deploys;
        this.releases = releases;
        this.retention = retention;
        this.files = files;
        this.audit = audit;
        this.logs = logs;
        this.statuses = statuses;
        this.wakeBuilders = wakeBuilders;
        this.publicUrl = publicUrl;
        this.settings = settings;
        this.clock = clock;
    }

    /** Starts the expiry sweep. */
    public void start() {
        long every = Math.max(100, settings.sweepEvery().toMillis());
        sweeper.scheduleWithFixedDelay(this::sweepQuietly, every, every, TimeUnit.MILLISECONDS);
    }

    /** {@code pr-42} → 42; 400 for anything else. */
    public static int parseName(String name) {
        Matcher m = name == null ? null : NAME.matcher(name);
        if (m == null || !m.matches()) {
            throw new ApiError(ApiError.Kind.BAD_REQUEST, "invalid_preview_name", "invalid preview name '" + name
                    + "': use pr-N, the pull request number (for example pr-42)");
        }
        return Integer.parseInt(m.group(1));
    }

    /** A commit given to {@code POST …/previews}: 4 to 40 hex digits, lower-cased; 400 otherwise. */
    static String parseSha(String sha) {
        String lower = sha == null ? "" : sha.trim().toLowerCase(Locale.ROOT);
        if (!SHA.matcher(lower).matches()) {
            throw ApiError.badRequest("commit_sha must be 4 to 40 hex digits, got '" + sha + "'");
        }
        return lower;
    }

    /** The stable URL of a preview: sessions are created under it. */
    public String url(String projectName, String name) {
        return publicUrl.get() + "/v1/projects/" + projectName + "/previews/" + name;
    }

    /**
     * Opens (or reopens) preview {@code pr-{number}} of a project of the actor's org at
     * {@code commitSha} and queues its build, expiring the least recently pushed live previews
     * over the cap, all in one transaction with {@code alsoInTransaction} (a webhook records its
     * delivery there). 404 for an unknown project; 429 when the org has its limit of queued deploys.
     */
    public Pushed push(Actor actor, String projectName, int number, String commitSha, DeploySource source,
                       String origin, String trigger, String description,
                       BiConsumer<Handle, DeployRecord> alsoInTransaction) {
        String name = "pr-" + number;
        Pushed pushed = db.inTransaction(h -> {
            OrgQuota.lock(h, actor.orgId());
            ProjectRecord project = projects.find(h, actor.orgId(), projectName)
                    .orElseThrow(() -> ApiError.notFound("project", projectName));
            ProjectStore.lock(h, project.id());
            if (deploys.queuedInOrg(h, actor.orgId(), null) >= settings.maxQueuedPerOrg()) {
                throw ApiError.tooManyRequests("this org has its limit of " + settings.maxQueuedPerOrg()
                        + " queued deploys (--max-queued-deploys-per-org); retry when some have started building",
                        RETRY_AFTER);
            }
            long now = clock.millis();
            long expiresAt = now + settings.ttl().toMillis();
            PreviewRecord found = store.find(h, project.id(), name).orElse(null);
            String previewId;
            if (found == null) {
                previewId = Ids.next("prv");
                store.insert(h, previewId, project.id(), name, number, commitSha, origin, now, expiresAt);
            } else {
                previewId = found.id();
                store.pushed(h, previewId, commitSha, now, expiresAt);
            }
            List<String> others = store.liveOldestFirst(h, project.id(), previewId);
            for (int i = 0; i <= others.size() - settings.maxPerProject(); i++) {
                expire(h, actor, store.byId(h, others.get(i)).orElseThrow(), "cap",
                        "over the cap of " + settings.maxPerProject() + " previews (--max-previews) when " + name
                                + " was pushed");
            }
            DeployRecord queued = deploys.enqueue(h, Ids.next("dep"), project.id(), previewId, commitSha, source, null,
                    null, actor.keyId(), trigger, null, now);
            Events.record(h, actor.orgId(), project.name(), Events.DEPLOY_QUEUED, Events.data("deploy",
                    queued.eventData()));
            audit.append(h, actor, "preview.push", "project:" + project.name() + "/" + name + "/" + queued.id());
            logs.append(h, project.id(), LogSource.BUILD, queued.id(), null, "Preview " + name + ": deploy "
                    + queued.id() + " accepted, commit " + Commits.shortSha(commitSha)
                    + (description == null ? "" : ": " + description));
            alsoInTransaction.accept(h, queued);
            return new Pushed(wire(store.byId(h, previewId).orElseThrow()), queued.id());
        });
        String projectId = projectId(pushed);
        statuses.reportPending(projectId, commitSha, pushed.preview().url(), "Building preview " + name,
                () -> deploys.byId(pushed.deployId()).map(d -> d.status().isTerminal()).orElse(true));
        logs.bus().publish(projectId);
        wakeBuilders.run();
        return pushed;
    }

    private String projectId(Pushed pushed) {
        return db.withHandle(h -> h.createQuery("SELECT project_id FROM deploys WHERE id = :d")
                .bind("d", pushed.deployId()).mapTo(String.class).one());
    }

    /**
     * Expires preview {@code pr-{number}} of a project because its pull request closed; false when
     * it has none or it had expired already.
     */
    public boolean close(Actor actor, String projectName, int number, String why,
                         java.util.function.Consumer<Handle> alsoInTransaction) {
        return expireNamed(actor, projectName, "pr-" + number, "closed", why, alsoInTransaction);
    }

    /** {@code DELETE …/previews/pr-42}: expires it (its history stays listed); 404 when there is none. */
    public void delete(Actor actor, String projectName, String name) {
        parseName(name);
        if (!expireNamed(actor, projectName, name, "deleted", "deleted by " + (actor.keyId() == null ? "request"
                : actor.keyId()), h -> { })) {
            db.withHandle(h -> require(h, actor.orgId(), projectName, name));
        }
    }

    private boolean expireNamed(Actor actor, String projectName, String name, String reason, String why,
                                java.util.function.Consumer<Handle> alsoInTransaction) {
        Boolean changed = db.inTransaction(h -> {
            ProjectRecord project = projects.find(h, actor.orgId(), projectName)
                    .orElseThrow(() -> ApiError.notFound("project", projectName));
            ProjectStore.lock(h, project.id());
            alsoInTransaction.accept(h);
            PreviewRecord preview = store.find(h, project.id(), name).orElse(null);
            if (preview == null) {
                return false;
            }
            return expire(h, actor, preview, reason, why);
        });
        if (changed) {
            releaseTrees();
        }
        return changed;
    }

    /**
     * Expires a live preview inside the caller's transaction (holding the project's lock): marks it,
     * cancels its queued builds, audits and logs it. False when it had expired already.
     */
    private boolean expire(Handle h, Actor actor, PreviewRecord preview, String reason, String why) {
        if (!store.expire(h, preview.id(), reason, clock.millis())) {
            return false;
        }
        Events.record(h, preview.orgId(), preview.projectName(), Events.PREVIEW_EXPIRED, Events.data("preview",
                Events.data("name", preview.name(), "pr", preview.prNumber(), "reason", reason)));
        audit.append(h, actor, "preview.expire", "project:" + preview.projectName() + "/" + preview.name());
        logs.append(h, preview.projectId(), LogSource.SYSTEM, null, preview.release(), "Preview " + preview.name()
                + " expired: " + why);
        return true;
    }

    /** Expires every preview past its TTL and hands released trees to retention; returns how many expired. */
    public int sweep() {
        long now = clock.millis();
        List<String> due = db.withHandle(h -> store.pastTtl(h, now));
        int expired = 0;
        for (String id : due) {
            boolean done = db.inTransaction(h -> {
                PreviewRecord preview = store.byId(h, id).orElse(null);
                if (preview == null) {
                    return false;
                }
                ProjectStore.lock(h, preview.projectId());
                return expire(h, new Actor(preview.orgId(), null, null, null), preview, "ttl",
                        "no push for " + settings.ttl() + " (--preview-ttl)");
            });
            if (done) {
                expired++;
            }
        }
        releaseTrees();
        return expired;
    }

    private void sweepQuietly() {
        try {
            int n = sweep();
            if (n > 0) {
                LOG.info("expired {} previews past their TTL", n);
            }
        } catch (RuntimeException e) {
            if (Database.isUnreachable(e)) {
                LOG.warn("preview expiry: the database is unreachable ({}); will retry", e.toString());
            } else {
                LOG.error("preview expiry failed; will retry", e);
            }
        }
    }

    /** Gives the trees of expired previews that no live session runs back to retention. */
    private void releaseTrees() {
        List<String> digests = db.inTransaction(h -> store.releaseExpired(h, clock.millis()));
        if (!digests.isEmpty()) {
            retention.release(digests);
        }
    }

    /**
     * Makes a finished preview build the preview's next release and its current one, marking the
     * deploy succeeded, in one transaction under the project's lock; the project's pointer does
     * not move. A preview that expired while it built gets no release (the deploy is canceled).
     */
    public void built(DeployRecord deploy, Tree tree, Detection detection) {
        String[] answer = db.inTransaction(h -> {
            ProjectStore.lock(h, deploy.projectId());
            PreviewRecord preview = store.byId(h, deploy.previewId())
                    .orElseThrow(() -> new IllegalStateException("preview of " + deploy.id() + " is gone"));
            long now = clock.millis();
            if (preview.expired()) {
                if (!deploys.finish(h, deploy.id(), deploy.attempts(), DeployStatus.CANCELED, null,
                        "preview " + preview.name() + " expired while it built", now)) {
                    throw new IllegalStateException("deploy " + deploy.id() + " is no longer building");
                }
                logs.append(h, deploy.projectId(), LogSource.BUILD, deploy.id(), null, "Build canceled: preview "
                        + preview.name() + " expired while it built");
                return null;
            }
            ReleaseStore.lockTree(h, db.dialect(), tree.contentDigest());
            if (!files.hasTree(tree.contentDigest())) {
                throw new BuildFailed("the release tree " + tree.contentDigest() + " was pruned while this build ran; "
                        + "push again");
            }
            SealedConfig config = ReleaseStore.projectConfig(h, deploy.projectId());
            int seq = store.nextSeq(h, preview.id());
            String releaseId = Ids.next("prl");
            store.insertRelease(h, new PreviewStore.Built(releaseId, preview.id(), seq, deploy.commitSha(),
                    detection.harness(), detection.buildKind(), detection.imageRef(), tree.contentDigest(),
                    deploy.id(), config.sealed(), config.digest()), now);
            if (!deploys.finish(h, deploy.id(), deploy.attempts(), DeployStatus.SUCCEEDED, null, null, now)) {
                throw new IllegalStateException("deploy " + deploy.id() + " is no longer building");
            }
            String version = preview.name() + "." + seq;
            Events.record(h, preview.orgId(), preview.projectName(), Events.DEPLOY_SUCCEEDED, Events.data("deploy",
                    deploy.eventData(), "release", Events.data("id", releaseId, "version", version, "commit_sha",
                            deploy.commitSha(), "source", deploy.source().wireName())));
            Events.record(h, preview.orgId(), preview.projectName(), Events.PREVIEW_READY, Events.data("preview",
                    Events.data("name", preview.name(), "pr", preview.prNumber(), "url",
                            url(preview.projectName(), preview.name()), "release", version,
                            "commit_sha", deploy.commitSha(), "deploy", deploy.id())));
            logs.append(h, deploy.projectId(), LogSource.RELEASE, deploy.id(), version, "Preview " + version
                    + " ready (commit " + Commits.shortSha(deploy.commitSha()) + "): "
                    + url(preview.projectName(), preview.name()));
            return new String[] {version, url(preview.projectName(), preview.name())};
        });
        logs.bus().publish(deploy.projectId());
        if (answer != null) {
            statuses.report(deploy.projectId(), deploy.commitSha(), "success", answer[1],
                    "Preview " + answer[0] + " is ready");
        }
    }

    /** Reports a failed preview build to GitHub, with a link to its build log. */
    public void failed(DeployRecord deploy) {
        statuses.report(deploy.projectId(), deploy.commitSha(), "failure", publicUrl.get() + "/agent_projects/"
                + deploy.projectName() + "/deploys/" + deploy.id() + "/logs", "Preview build failed");
    }

    /** The preview release a new session of {@code pr-42} gets: 404 unknown, 409 expired or not built yet. */
    public String serving(Handle h, String orgId, String projectName, String name) {
        parseName(name);
        PreviewRecord preview = require(h, orgId, projectName, name);
        ProjectStore.lock(h, preview.projectId());
        preview = store.byId(h, preview.id()).orElseThrow();
        if (preview.expired()) {
            throw new ApiError(ApiError.Kind.CONFLICT, "preview_expired", "preview " + name + " of " + projectName
                    + " expired (" + preview.expireReason() + "): it takes no new sessions; push to the pull request "
                    + "to build it again");
        }
        if (preview.currentReleaseId() == null) {
            throw new ApiError(ApiError.Kind.CONFLICT, "no_active_release", "preview " + name + " of " + projectName
                    + " has no release yet (" + preview.status() + "): wait for its build");
        }
        return preview.currentReleaseId();
    }

    public List<Preview> list(String orgId, String projectName) {
        ProjectRecord project = projects.find(orgId, projectName)
                .orElseThrow(() -> ApiError.notFound("project", projectName));
        List<Preview> out = new ArrayList<>();
        for (PreviewRecord p : store.ofProject(project.id())) {
            out.add(wire(p));
        }
        return out;
    }

    public Preview get(String orgId, String projectName, String name) {
        parseName(name);
        return wire(db.withHandle(h -> require(h, orgId, projectName, name)));
    }

    /**
     * Makes the preview's current release production release {@code vN+1} (source
     * {@code promote}), without rebuilding; goes live unless the project is pinned. 409 when the
     * preview is expired or has no release.
     */
    public Releases.Promoted promote(Actor actor, String projectName, String name) {
        parseName(name);
        Releases.Promoted promoted = db.inTransaction(h -> {
            PreviewRecord preview = require(h, actor.orgId(), projectName, name);
            ProjectStore.lock(h, preview.projectId());
            preview = store.byId(h, preview.id()).orElseThrow();
            if (preview.expired()) {
                throw new ApiError(ApiError.Kind.CONFLICT, "preview_expired", "preview " + name + " of " + projectName
                        + " expired (" + preview.expireReason() + "); push to it again to promote it");
            }
            if (preview.currentReleaseId() == null) {
                throw new ApiError(ApiError.Kind.CONFLICT, "no_active_release", "preview " + name + " has no release "
                        + "yet (" + preview.status() + "): wait for its build");
            }
            PreviewStore.Built b = store.release(h, preview.currentReleaseId()).orElseThrow();
            return releases.promote(h, actor, preview.projectId(), new Releases.Built(b.commitSha(), b.harness(),
                            b.buildKind(), b.imageRef(), b.contentDigest(), b.deployId()),
                    new SealedConfig(b.config(), b.configDigest()), "preview " + preview.name() + "." + b.seq());
        });
        logs.bus().publish(promoted.release().projectId());
        return promoted;
    }

    private PreviewRecord require(Handle h, String orgId, String projectName, String name) {
        ProjectRecord project = projects.find(h, orgId, projectName)
                .orElseThrow(() -> ApiError.notFound("project", projectName));
        return store.find(h, project.id(), name).orElseThrow(() -> ApiError.notFound("preview", name));
    }

    private Preview wire(PreviewRecord p) {
        return p.toWire(url(p.projectName(), p.name()));
    }

    @Override
    public void close() {
        sweeper.shutdownNow();
        statuses.close();
    }
}
