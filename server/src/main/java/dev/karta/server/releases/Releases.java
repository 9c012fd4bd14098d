package dev.karta.server.releases;

import dev.karta.api.Commits;
import dev.karta.api.RollbackResult;
import dev.karta.server.Ids;
import dev.karta.server.audit.AuditLog;
import dev.karta.server.build.BuildFailed;
import dev.karta.server.build.Detection;
import dev.karta.server.build.ReleaseFiles;
import dev.karta.server.build.Tree;
import dev.karta.server.deploys.DeployRecord;
import dev.karta.server.deploys.DeployStatus;
import dev.karta.server.deploys.DeployStore;
import dev.karta.server.http.Actor;
import dev.karta.server.http.ApiError;
import dev.karta.server.logs.LogSource;
import dev.karta.server.logs.LogStore;
import dev.karta.server.projects.ProjectRecord;
import dev.karta.server.projects.ProjectStore;
import dev.karta.server.store.Database;
import java.time.Instant;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.jdbi.v3.core.Handle;

/**
 * Creating releases and moving the project's pointer to one (activation, rollback): two steps, so
 * a release can exist that no pointer moves to. The pointer flips run in one transaction with
 * their audit event and log entry, so the previous release keeps serving until it commits.
 */
public final class Releases {
    private static final Pattern VERSION = Pattern.compile("v?([1-9]\\d{0,8})");

    private final Database db;
    private final ReleaseStore store;
    private final ProjectStore projects;
    private final DeployStore deploys;
    private final AuditLog audit;
    private final LogStore logs;
    private final ReleaseFiles files;

    public Releases(Database db, ReleaseStore store, ProjectStore projects, DeployStore deploys, AuditLog audit,
                    LogStore logs, ReleaseFiles files) {
        this.db = db;
        this.store = store;
        this.projects = projects;
        this.deploys = deploys;
        this.audit = audit;
        this.logs = logs;
        this.files = files;
    }

    /**
     * Creates release {@code max + 1} from a finished build and points the project at it, marking
     * the deploy succeeded, in one transaction. Throws, changing nothing, when the deploy is no
     * longer building (its lease was lost to another server).
     */
    public ReleaseRecord activate(DeployRecord deploy, Tree tree, Detection detection) {
        ReleaseRecord release = db.inTransaction(h -> {
            ReleaseRecord created = create(h, deploy, tree, detection);
            point(h, deploy, created);
            return created;
        });
        logs.bus().publish(deploy.projectId());
        return release;
    }

    /**
     * Creates release {@code max + 1} from a finished build and marks the deploy succeeded, inside
     * the caller's transaction; no project points at the new release yet. Throws when the deploy is
     * no longer building or its tree was pruned meanwhile.
     */
    public ReleaseRecord create(Handle h, DeployRecord deploy, Tree tree, Detection detection) {
        Instant now = Instant.now();
        projects.byId(h, deploy.projectId())
                .orElseThrow(() -> new IllegalStateException("project of " + deploy.id() + " is gone"));
        int number = store.nextNumber(h, deploy.projectId());
        // The build may have found this tree already on disk, used by a release retention is
        // pruning right now: once the tree is locked, it either is still there (and retention
        // will see this release) or is gone.
        store.lockTree(h, tree.contentDigest());
        if (!files.hasTree(tree.contentDigest())) {
            throw new BuildFailed("the release tree " + tree.contentDigest() + " was pruned while this build ran; "
                    + "deploy again");
        }
        // Under the project's lock (nextNumber): a config change either committed before, and this
        // release runs with it, or waits and makes its own release from this one.
        SealedConfig config = ReleaseStore.projectConfig(h, deploy.projectId());
        ReleaseRecord created = new ReleaseRecord(Ids.next("rel"), deploy.projectId(), number, deploy.commitSha(),
                detection.harness(), detection.buildKind(), detection.imageRef(), tree.contentDigest(),
                deploy.source().wireName(), deploy.id(), now, now,
                deploy.trigger() != null ? deploy.trigger() : deploy.source().wireName(), deploy.actorKeyId(),
                deploy.idempotencyKey(), config.digest(), null, null, null);
        created = store.insert(h, created, config);
        if (!deploys.finish(h, deploy.id(), deploy.attempts(), DeployStatus.SUCCEEDED, number, null,
                now.toEpochMilli())) {
            throw new IllegalStateException("deploy " + deploy.id() + " is no longer building");
        }
        return created;
    }

    /**
     * Points the project of {@code deploy} at {@code release}, inside the caller's transaction, with
     * the {@code release.activate} audit event and the project log entry. The caller publishes the
     * log bus after commit.
     */
    public void point(Handle h, DeployRecord deploy, ReleaseRecord release) {
        ProjectRecord project = projects.byId(h, deploy.projectId())
                .orElseThrow(() -> new IllegalStateException("project of " + deploy.id() + " is gone"));
        store.point(h, deploy.projectId(), release.id());
        Actor actor = new Actor(deploy.orgId(), deploy.actorKeyId(), null, null);
        audit.append(h, actor, "release.activate", "project:" + project.name() + "/" + release.version());
        String was = project.currentNumber() == null ? "" : ", was v" + project.currentNumber();
        logs.append(h, deploy.projectId(), LogSource.RELEASE, deploy.id(), release.version(),
                "Release " + release.version() + " activated (commit " + Commits.shortSha(deploy.commitSha())
                        + was + ")");
    }

    /**
     * Creates release {@code max + 1} of a project with its active release's tree, commit, harness,
     * build kind and image, the config vars {@code config} and source {@code config}, and points the
     * project at it, inside the caller's transaction, which holds the project's lock. The new
     * release keeps the deploy id of the release whose tree it takes (every release names one).
     * Writes the project log entry ("{@code summary} (v6)"); the caller appends the audit event
     * and publishes the log bus after commit. {@code idempotencyKey} (may be null) is the request's.
     */
    public ReleaseRecord createFromConfig(Handle h, Actor actor, String idempotencyKey, ProjectRecord project,
                                          SealedConfig config, String summary) {
        ReleaseRecord base = store.byId(h, project.currentReleaseId())
                .orElseThrow(() -> new IllegalStateException("project " + project.name() + " has no active release"));
        int number = store.nextNumber(h, project.id());
        // Same guard as a rollback: retention decides under the project's lock, and the tree's
        // lock orders this against a prune of the same tree by another project.
        store.lockTree(h, base.contentDigest());
        Instant now = Instant.now();
        ReleaseRecord created = new ReleaseRecord(Ids.next("rel"), project.id(), number, base.commitSha(),
                base.harness(), base.buildKind(), base.imageRef(), base.contentDigest(), CONFIG_SOURCE,
                base.deployId(), now, now, CONFIG_SOURCE, actor.keyId(), idempotencyKey, config.digest(), summary,
                null, null);
        created = store.insert(h, created, config);
        store.point(h, project.id(), created.id());
        // Rollback pins: a pinned project's active release is the pinned one, so this release keeps
        // the pinned code with the new config, and is activated although the project is pinned.
        // The pin must then name this release (set the pin's release column to created.id() here,
        // in this transaction, once projects have one).
        logs.append(h, project.id(), LogSource.RELEASE, null, created.version(),
                summary + " (" + created.version() + ")");
        return created;
    }

    /** The {@code source} of a release made by a config change. */
    public static final String CONFIG_SOURCE = "config";

    /**
     * Points the project at an earlier (or later) existing release: no rebuild, no new number.
     * Rolling to the active release changes nothing and answers the same shape.
     */
    public RollbackResult rollback(Actor actor, String projectName, String to) {
        int number = parseVersion(to);
        Flip flip = db.inTransaction(h -> {
            ProjectRecord found = projects.find(h, actor.orgId(), projectName)
                    .orElseThrow(() -> ApiError.notFound("project", projectName));
            // Retention decides and marks what it prunes under this same lock: a rollback either
            // commits first (and retention keeps its release) or sees the mark.
            ProjectStore.lock(h, found.id());
            ProjectRecord project = projects.byId(h, found.id()).orElseThrow(() -> ApiError.notFound("project",
                    projectName));
            ReleaseRecord target = store.byNumber(h, project.id(), number)
                    .orElseThrow(() -> ApiError.notFound("release", "v" + number));
            String previous = project.currentNumber() == null ? null : "v" + project.currentNumber();
            RollbackResult result = new RollbackResult(project.name(), target.version(), previous);
            if (target.id().equals(project.currentReleaseId())) {
                return new Flip(null, result);
            }
            store.lockTree(h, target.contentDigest());
            if (store.isPruned(h, target.id()) || !files.hasTree(target.contentDigest())) {
                throw ApiError.conflict("release " + target.version() + " can no longer be activated: its files were "
                        + "pruned by --keep-releases");
            }
            store.point(h, project.id(), target.id());
            audit.append(h, actor, "release.rollback", "project:" + project.name() + "/" + target.version());
            logs.append(h, project.id(), LogSource.RELEASE, null, target.version(),
                    "Rolled back to " + target.version() + (previous == null ? "" : " (was " + previous + ")"));
            return new Flip(project.id(), result);
        });
        if (flip.projectId() != null) {
            logs.bus().publish(flip.projectId());
        }
        return flip.result();
    }

    /** A rollback's answer, and the project whose log followers to wake (null for a no-op). */
    private record Flip(String projectId, RollbackResult result) {
    }

    public List<ReleaseRecord> list(ProjectRecord project) {
        return store.ofProject(project.id());
    }

    public ReleaseRecord get(ProjectRecord project, String version) {
        int number = parseVersion(version);
        return db.withHandle(h -> store.byNumber(h, project.id(), number))
                .orElseThrow(() -> ApiError.notFound("release", "v" + number));
    }

    static int parseVersion(String version) {
        // One spelling per version: "v01" or " v1" would otherwise name v1 too.
        Matcher m = version == null ? null : VERSION.matcher(version);
        if (m == null || !m.matches()) {
            throw ApiError.badRequest("invalid release version '" + version + "': use v3 or 3");
        }
        return Integer.parseInt(m.group(1));
    }
}
