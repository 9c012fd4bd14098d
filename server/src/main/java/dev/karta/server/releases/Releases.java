package dev.karta.server.releases;

import dev.karta.api.Commits;
import dev.karta.api.Pin;
import dev.karta.api.Release;
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
import dev.karta.server.events.Events;
import dev.karta.server.http.Actor;
import dev.karta.server.http.ApiError;
import dev.karta.server.logs.LogSource;
import dev.karta.server.logs.LogStore;
import dev.karta.server.projects.ProjectRecord;
import dev.karta.server.projects.ProjectStore;
import dev.karta.server.store.Database;
import java.time.Instant;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.jdbi.v3.core.Handle;

/**
 * Creating releases and moving the project's pointer to one (activation, rollback, unpin): two
 * steps, so a release can exist that no pointer moves to, as every build of a pinned project does.
 * The pointer flips run in one transaction with their audit event and log entry, so the previous
 * release keeps serving until it commits; every flip goes through {@link ReleaseStore#point}.
 */
public final class Releases {
    private static final Pattern VERSION = Pattern.compile("v?([1-9]\\d{0,8})");
    /** Why a release retention pruned can no longer be activated. */
    private static final String PRUNED = "files pruned by --keep-releases";

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
     * Creates release {@code max + 1} from a finished build and, unless the project is pinned,
     * points the project at it, marking the deploy succeeded, in one transaction. The pin is read
     * under the project's lock (taken by {@link #create}), so a rollback that pins either commits
     * first and this build only creates its release, or waits for this transaction and then rolls
     * back from the new release. Throws, changing nothing, when the deploy is no longer building
     * (its lease was lost to another server).
     */
    public ReleaseRecord activate(DeployRecord deploy, Tree tree, Detection detection) {
        ReleaseRecord release = db.inTransaction(h -> {
            ReleaseRecord created = create(h, deploy, tree, detection);
            ProjectRecord project = projects.byId(h, deploy.projectId())
                    .orElseThrow(() -> new IllegalStateException("project of " + deploy.id() + " is gone"));
            if (project.pinned()) {
                logs.append(h, project.id(), LogSource.RELEASE, deploy.id(), created.version(),
                        pinnedMessage(project, created));
                return created;
            }
            point(h, deploy, created);
            return store.byId(h, created.id()).orElseThrow();
        });
        logs.bus().publish(deploy.projectId());
        return release;
    }

    /** What a build finishing on a pinned project says, in its build log and as a push's remote: line. */
    static String pinnedMessage(ProjectRecord project, ReleaseRecord built) {
        return project.name() + " is pinned to v" + project.pinnedNumber()
                + (project.pinnedBy() == null ? "" : " (rolled back by " + project.pinnedBy() + ")") + "; "
                + built.version() + " is built but not live. Run `karta releases activate " + project.name() + " "
                + built.version() + "` or `karta unpin " + project.name() + "`.";
    }

    /**
     * Creates release {@code max + 1} from a finished build and marks the deploy succeeded, inside
     * the caller's transaction (holding the project's lock from then on); no project points at the
     * new release yet and it was never active. Throws when the deploy is no longer building or its
     * tree was pruned meanwhile.
     */
    public ReleaseRecord create(Handle h, DeployRecord deploy, Tree tree, Detection detection) {
        Instant now = Instant.now();
        projects.byId(h, deploy.projectId())
                .orElseThrow(() -> new IllegalStateException("project of " + deploy.id() + " is gone"));
        int number = store.nextNumber(h, deploy.projectId());
        // The build may have found this tree already on disk, used by a release retention is
        // pruning right now: once the tree is locked, it either is still there (and retention
        // will see this release) or is gone.
        ReleaseStore.lockTree(h, db.dialect(), tree.contentDigest());
        if (!files.hasTree(tree.contentDigest())) {
            throw new BuildFailed("the release tree " + tree.contentDigest() + " was pruned while this build ran; "
                    + "deploy again");
        }
        // Under the project's lock (nextNumber): a config change either committed before, and this
        // release runs with it, or waits and makes its own release from this one.
        SealedConfig config = ReleaseStore.projectConfig(h, deploy.projectId());
        ReleaseRecord created = new ReleaseRecord(Ids.next("rel"), deploy.projectId(), number, deploy.commitSha(),
                detection.harness(), detection.buildKind(), detection.imageRef(), tree.contentDigest(),
                deploy.source().wireName(), deploy.id(), now, null, null, null,
                deploy.trigger() != null ? deploy.trigger() : deploy.source().wireName(), deploy.actorKeyId(),
                deploy.idempotencyKey(), config.digest(), null, null, null);
        created = store.insert(h, created, config);
        if (!deploys.finish(h, deploy.id(), deploy.attempts(), DeployStatus.SUCCEEDED, number, null,
                now.toEpochMilli())) {
            throw new IllegalStateException("deploy " + deploy.id() + " is no longer building");
        }
        Events.record(h, deploy.orgId(), deploy.projectName(), Events.DEPLOY_SUCCEEDED,
                Events.data("deploy", deploy.eventData(), "release", releaseData(created)));
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
        Events.record(h, deploy.orgId(), project.name(), Events.RELEASE_ACTIVATED, Events.data("release",
                releaseData(release), "previous", previous(project), "reason", "deploy"));
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
        ReleaseStore.lockTree(h, db.dialect(), base.contentDigest());
        Instant now = Instant.now();
        ReleaseRecord created = new ReleaseRecord(Ids.next("rel"), project.id(), number, base.commitSha(),
                base.harness(), base.buildKind(), base.imageRef(), base.contentDigest(), CONFIG_SOURCE,
                base.deployId(), now, null, null, null, CONFIG_SOURCE, actor.keyId(), idempotencyKey, config.digest(),
                summary, null, null);
        created = store.insert(h, created, config);
        store.point(h, project.id(), created.id());
        // A pinned project's active release is the pinned one, so this release keeps the pinned
        // code with the new config: it goes live although the project is pinned, and the pin moves
        // to it (a later deploy still does not go live).
        if (project.pinned()) {
            store.pin(h, project.id(), created.id(), project.pinnedBy());
        }
        logs.append(h, project.id(), LogSource.RELEASE, null, created.version(),
                summary + " (" + created.version() + ")");
        Events.record(h, project.orgId(), project.name(), Events.RELEASE_ACTIVATED, Events.data("release",
                releaseData(created), "previous", previous(project), "reason", CONFIG_SOURCE));
        return created;
    }

    /** The {@code source} of a release made by a config change. */
    public static final String CONFIG_SOURCE = "config";

    /** The {@code source} of a release made by promoting a preview. */
    public static final String PROMOTE_SOURCE = "promote";

    /** A finished build's tree and what it was built as: what a promotion makes a release of. */
    public record Built(String commitSha, String harness, String buildKind, String imageRef, String contentDigest,
                        String deployId) {
    }

    /** A promotion's release, and whether it went live ({@code false}: the project is pinned, and why). */
    public record Promoted(ReleaseRecord release, boolean live, String message) {
    }

    /**
     * Creates release {@code max + 1} of the project from an already built tree (a preview's
     * release), with {@code config} and source {@code promote}, without rebuilding, and points the
     * project at it unless the project is pinned (then it is built but not live, like a deploy's
     * release), inside the caller's transaction, under the project's lock. Appends the
     * {@code release.promote} audit event (and {@code release.activate} when it goes live) and the
     * log entry; the caller publishes the log bus after commit. A tree that is gone is a 409.
     */
    public Promoted promote(Handle h, Actor actor, String projectId, Built built, SealedConfig config,
                            String description) {
        ProjectStore.lock(h, projectId);
        ProjectRecord project = projects.byId(h, projectId)
                .orElseThrow(() -> new IllegalStateException("project " + projectId + " is gone"));
        int number = store.nextNumber(h, projectId);
        ReleaseStore.lockTree(h, db.dialect(), built.contentDigest());
        if (!files.hasTree(built.contentDigest())) {
            throw ApiError.conflict("cannot promote: the files of " + description + " are gone (tree "
                    + built.contentDigest() + " not found)");
        }
        ReleaseRecord created = new ReleaseRecord(Ids.next("rel"), projectId, number, built.commitSha(),
                built.harness(), built.buildKind(), built.imageRef(), built.contentDigest(), PROMOTE_SOURCE,
                built.deployId(), Instant.now(), null, null, null, PROMOTE_SOURCE, actor.keyId(), null,
                config.digest(), description, null, null);
        created = store.insert(h, created, config);
        audit.append(h, actor, "release.promote", "project:" + project.name() + "/" + created.version());
        if (project.pinned()) {
            String message = pinnedMessage(project, created);
            logs.append(h, projectId, LogSource.RELEASE, built.deployId(), created.version(),
                    "Release " + created.version() + " promoted from " + description + by(actor) + "; " + message);
            return new Promoted(created, false, message);
        }
        store.point(h, projectId, created.id());
        Events.record(h, project.orgId(), project.name(), Events.RELEASE_ACTIVATED, Events.data("release",
                releaseData(created), "previous", previous(project), "reason", PROMOTE_SOURCE));
        audit.append(h, actor, "release.activate", "project:" + project.name() + "/" + created.version());
        String was = project.currentNumber() == null ? "" : ", was v" + project.currentNumber();
        logs.append(h, projectId, LogSource.RELEASE, built.deployId(), created.version(), "Release "
                + created.version() + " promoted from " + description + " and activated (commit "
                + Commits.shortSha(built.commitSha()) + was + ")" + by(actor));
        return new Promoted(store.byId(h, created.id()).orElseThrow(), true,
                project.name() + " serves " + created.version());
    }

    /**
     * Points the project at an earlier (or later) existing release: no rebuild, no new number. With
     * {@code pin} the project stays there (later builds create releases that do not go live) until
     * an {@link #activate(Actor, String, String) activation} or {@link #unpin}; without, any pin is
     * cleared. Rolling to the active release moves no pointer: it pins (or, without {@code pin},
     * unpins) when the project is not already so, and otherwise changes nothing (no audit event).
     * A target whose files are gone is a 409, checked before anything changes.
     */
    public RollbackResult rollback(Actor actor, String projectName, String to, boolean pin) {
        int number = parseVersion(to);
        return flip(actor, projectName, (h, project) -> {
            ReleaseRecord target = store.byNumber(h, project.id(), number)
                    .orElseThrow(() -> ApiError.notFound("release", "v" + number));
            boolean active = target.id().equals(project.currentReleaseId());
            // Rolling to the active release moves nothing but still pins it (a build in flight must
            // not undo what the caller asked for), and with --no-pin clears a pin: the way to stay
            // on a release and let deploys go live again.
            boolean pinnedThere = project.pinned() && project.pinnedNumber() == target.number();
            if (active && (pin ? pinnedThere : !project.pinned())) {
                return null;
            }
            if (!active) {
                requireActivatable(h, target);
                store.point(h, project.id(), target.id());
            }
            String previous = previous(project);
            String pinNote;
            if (pin) {
                store.pin(h, project.id(), target.id(), actor.keyId());
                pinNote = "; pinned: deploys build but do not go live until `karta releases activate "
                        + project.name() + " VERSION` or `karta unpin " + project.name() + "`";
            } else {
                store.unpin(h, project.id());
                pinNote = project.pinned() ? "; pin cleared" : "";
            }
            audit.append(h, actor, "release.rollback", "project:" + project.name() + "/" + target.version());
            Events.record(h, project.orgId(), project.name(), Events.RELEASE_ROLLED_BACK, Events.data("release",
                    releaseData(target), "previous", previous, "pinned", pin));
            if (pin) {
                Events.record(h, project.orgId(), project.name(), Events.RELEASE_PINNED, Events.data("release",
                        releaseData(target), "pinned_by", actor.keyId()));
            }
            logs.append(h, project.id(), LogSource.RELEASE, null, target.version(), "Rolled back to "
                    + target.version() + (active ? ", already active" : previous == null ? "" : " (was " + previous + ")")
                    + by(actor) + pinNote);
            return target;
        });
    }

    /**
     * Activates an existing release, older or newer, and clears the pin: what an admin runs to let
     * a release built while pinned go live. Activating the active release of an unpinned project
     * changes nothing. A target whose files are gone is a 409.
     */
    public RollbackResult activate(Actor actor, String projectName, String version) {
        int number = parseVersion(version);
        return flip(actor, projectName, (h, project) -> {
            ReleaseRecord target = store.byNumber(h, project.id(), number)
                    .orElseThrow(() -> ApiError.notFound("release", "v" + number));
            boolean active = target.id().equals(project.currentReleaseId());
            if (active && !project.pinned()) {
                return null;
            }
            if (!active) {
                requireActivatable(h, target);
                store.point(h, project.id(), target.id());
            }
            store.unpin(h, project.id());
            String previous = previous(project);
            audit.append(h, actor, "release.activate", "project:" + project.name() + "/" + target.version());
            Events.record(h, project.orgId(), project.name(), Events.RELEASE_ACTIVATED, Events.data("release",
                    releaseData(target), "previous", previous, "reason", "activate"));
            logs.append(h, project.id(), LogSource.RELEASE, null, target.version(),
                    (active ? target.version() + " stays active" : "Release " + target.version() + " activated"
                            + (previous == null ? "" : " (was " + previous + ")")) + by(actor)
                            + (project.pinned() ? "; pin to v" + project.pinnedNumber() + " cleared" : ""));
            return target;
        });
    }

    /**
     * Clears the project's pin and activates its newest release when that is newer than the active
     * one (deploys go live again, starting with the newest build). Unpinning a project that is not
     * pinned changes nothing. A newest release whose files are gone is a 409, and the pin stays.
     */
    public RollbackResult unpin(Actor actor, String projectName) {
        return flip(actor, projectName, (h, project) -> {
            if (!project.pinned()) {
                return null;
            }
            ReleaseRecord target = store.newest(h, project.id()).orElseThrow();
            boolean newer = project.currentNumber() == null || target.number() > project.currentNumber();
            if (newer) {
                requireActivatable(h, target);
                store.point(h, project.id(), target.id());
            } else {
                target = store.byId(h, project.currentReleaseId()).orElseThrow();
            }
            store.unpin(h, project.id());
            audit.append(h, actor, "project.unpin", "project:" + project.name());
            if (newer) {
                Events.record(h, project.orgId(), project.name(), Events.RELEASE_ACTIVATED, Events.data("release",
                        releaseData(target), "previous", previous(project), "reason", "unpin"));
            }
            logs.append(h, project.id(), LogSource.RELEASE, null, target.version(),
                    "Unpinned (was pinned to v" + project.pinnedNumber() + ")" + by(actor) + "; "
                            + (newer ? target.version() + " activated" : target.version() + " stays active")
                            + ": deploys go live again");
            return target;
        });
    }

    /** What one pointer change does inside the flip's transaction: the release now active, or null for nothing. */
    @FunctionalInterface
    private interface Change {
        ReleaseRecord apply(Handle h, ProjectRecord project);
    }

    /**
     * Runs {@code change} in one transaction under the project's lock (retention decides and marks
     * what it prunes under this same lock: a flip either commits first, and retention keeps its
     * release, or sees the mark) and answers the project's state afterwards; wakes log followers
     * after commit when something changed.
     */
    private RollbackResult flip(Actor actor, String projectName, Change change) {
        Flip flip = db.inTransaction(h -> {
            ProjectRecord before = projects.locked(h, actor.orgId(), projectName)
                    .orElseThrow(() -> ApiError.notFound("project", projectName));
            ReleaseRecord now = change.apply(h, before);
            ProjectRecord after = projects.byId(h, before.id()).orElseThrow();
            String active = after.currentNumber() == null ? null : "v" + after.currentNumber();
            RollbackResult result = new RollbackResult(after.name(), active, now == null ? active : previous(before),
                    after.pinned() ? new Pin("v" + after.pinnedNumber(), after.pinnedBy(), after.pinnedAt()) : null);
            return new Flip(now == null ? null : after.id(), result);
        });
        if (flip.projectId() != null) {
            logs.bus().publish(flip.projectId());
        }
        return flip.result();
    }

    /** What events say about a release: never its config values. */
    private static Map<String, Object> releaseData(ReleaseRecord release) {
        return Events.data("id", release.id(), "version", release.version(), "commit_sha", release.commitSha(),
                "source", release.source());
    }

    private static String previous(ProjectRecord project) {
        return project.currentNumber() == null ? null : "v" + project.currentNumber();
    }

    private static String by(Actor actor) {
        return actor.keyId() == null ? "" : " by " + actor.keyId();
    }

    /**
     * 409, changing nothing, unless the release's files are stored: not marked pruned by retention
     * ({@code target} was read under the project's lock, which retention marks under) and its tree
     * present under its content digest (a stored marker, no re-hashing). The tree's lock keeps
     * retention from deleting it until the caller commits.
     */
    private void requireActivatable(Handle h, ReleaseRecord target) {
        ReleaseStore.lockTree(h, db.dialect(), target.contentDigest());
        String reason = target.prunedAt() != null ? PRUNED : files.hasTree(target.contentDigest()) ? null
                : missing(target);
        if (reason != null) {
            throw ApiError.conflict("release " + target.version() + " can no longer be activated: " + reason);
        }
    }

    private static String missing(ReleaseRecord release) {
        return "files missing from storage (tree " + release.contentDigest() + " not found)";
    }

    /**
     * Why the release can no longer be activated, or null when it can: what listings show, read
     * without locks (a rollback checks again under them).
     */
    public String unavailableReason(ReleaseRecord release) {
        if (release.prunedAt() != null) {
            return PRUNED;
        }
        return files.hasTree(release.contentDigest()) ? null : missing(release);
    }

    /** A flip's answer, and the project whose log followers to wake (null for a no-op). */
    private record Flip(String projectId, RollbackResult result) {
    }

    public List<ReleaseRecord> list(ProjectRecord project) {
        return store.ofProject(project.id());
    }

    /**
     * The project's releases as the API shows them, each with whether it can go live: releases
     * sharing a tree share the answer, so each stored tree is checked once.
     */
    public List<Release> listWire(ProjectRecord project) {
        Map<String, Optional<String>> reasons = new HashMap<>();
        return list(project).stream()
                .map(r -> r.toWire(project.currentReleaseId(), r.prunedAt() != null ? PRUNED
                        : reasons.computeIfAbsent(r.contentDigest(), d -> Optional.ofNullable(unavailableReason(r)))
                                .orElse(null)))
                .toList();
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
