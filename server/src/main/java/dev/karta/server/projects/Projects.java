package dev.karta.server.projects;

import dev.karta.api.Pin;
import dev.karta.api.Project;
import dev.karta.api.RepoBinding;
import dev.karta.server.Ids;
import dev.karta.server.audit.AuditLog;
import dev.karta.server.http.Actor;
import dev.karta.server.http.ApiError;
import dev.karta.server.ledger.Chains;
import dev.karta.server.ledger.Ledger;
import dev.karta.server.logs.LogSource;
import dev.karta.server.logs.LogStore;
import dev.karta.server.orgs.OrgQuota;
import dev.karta.server.store.Database;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;
import java.util.function.Supplier;
import java.util.regex.Pattern;
import org.jdbi.v3.core.Handle;

/**
 * Creates, finds, lists and deletes projects. Names are unique on the whole server; a project
 * of another org is indistinguishable from a missing one.
 */
public final class Projects {
    private static final Pattern NAME = Pattern.compile("[a-z][a-z0-9-]{1,38}[a-z0-9]");
    private static final Duration RETRY_AFTER = Duration.ofHours(1);

    private final Database db;
    private final ProjectStore store;
    private final AuditLog audit;
    private final Supplier<String> publicUrl;
    private final LogStore logs;
    private final int maxPerOrg;
    private final List<Consumer<ProjectRecord>> onDelete = new ArrayList<>();
    private final List<DeletionStep> whileDeleting = new ArrayList<>();

    /** Work that must commit or roll back with a project's deletion. */
    @FunctionalInterface
    public interface DeletionStep {
        /** Runs inside the deleting transaction; the returned work runs after its commit. */
        Runnable inTransaction(Handle h, Actor actor, ProjectRecord project);
    }

    public Projects(Database db, ProjectStore store, AuditLog audit, Supplier<String> publicUrl, LogStore logs,
                    int maxPerOrg) {
        this.db = db;
        this.store = store;
        this.audit = audit;
        this.publicUrl = publicUrl;
        this.logs = logs;
        this.maxPerOrg = maxPerOrg;
    }

    /** Registers work to do in the transaction that deletes a project (revoking the keys restricted to it). */
    public void whileDeleting(DeletionStep step) {
        whileDeleting.add(step);
    }

    /** Registers work to do after a project is deleted (its files on disk, caches). */
    public void onDelete(Consumer<ProjectRecord> cleanup) {
        onDelete.add(cleanup);
    }

    public static void validateName(String name) {
        if (name == null || name.isBlank()) {
            throw ApiError.badRequest("project name is required");
        }
        if (!NAME.matcher(name).matches()) {
            throw ApiError.badRequest("invalid project name '" + name + "': use 3-40 characters of a-z, 0-9 and '-', "
                    + "starting with a letter and not ending with '-'");
        }
    }

    public ProjectRecord create(Actor actor, String name) {
        validateName(name);
        try {
            return db.inTransaction(h -> create(h, actor, name));
        } catch (RuntimeException e) {
            if (Database.isUniqueViolation(e)) {
                throw ApiError.conflict("project name '" + name + "' is already taken");
            }
            throw e;
        }
    }

    /**
     * Creates a project inside the caller's transaction, with its audit event and first log entry;
     * 429 when the org already has its limit of projects (every implicit create, by a first
     * publish, push or deploy, comes through here too).
     */
    public ProjectRecord create(Handle h, Actor actor, String name) {
        validateName(name);
        OrgQuota.lock(h, actor.orgId());
        checkRoom(h, actor.orgId());
        String id = Ids.next("prj");
        store.insert(h, id, actor.orgId(), name, Instant.now().toEpochMilli());
        audit.append(h, actor, "project.create", "project:" + name);
        logs.append(h, id, LogSource.SYSTEM, null, null, "Project " + name + " created"
                + (actor.keyId() == null ? "" : " by key " + actor.keyId()));
        return store.find(h, actor.orgId(), name).orElseThrow();
    }

    /**
     * 429 when the org has its limit of projects. Atomic only under {@link OrgQuota#lock} in the
     * creating transaction; without it, an early refusal before a large upload is read.
     */
    public void checkRoom(Handle h, String orgId) {
        if (store.countInOrg(h, orgId) >= maxPerOrg) {
            // Waiting does not free a slot; Retry-After only keeps clients from retrying in a loop.
            throw ApiError.tooManyRequests("this org has its limit of " + maxPerOrg + " projects "
                    + "(--max-projects-per-org): delete a project or ask the operator to raise the limit",
                    RETRY_AFTER);
        }
    }

    public ProjectRecord require(String orgId, String name) {
        return store.find(orgId, name).orElseThrow(() -> ApiError.notFound("project", name));
    }

    public List<ProjectRecord> list(String orgId) {
        return store.list(orgId);
    }

    public void delete(Actor actor, String name) {
        List<Runnable> afterCommit = new ArrayList<>();
        ProjectRecord project = db.inTransaction(h -> {
            afterCommit.clear();
            // The project's releases go with it: the hash of the last one, read under the lock
            // that release appends take, anchors their chain in the org's audit chain.
            ProjectRecord found = store.locked(h, actor.orgId(), name)
                    .orElseThrow(() -> ApiError.notFound("project", name));
            String lastRelease = Chains.releaseHead(h, found.id());
            store.delete(h, found.id());
            audit.append(h, actor, "project.delete", "project:" + name,
                    Ledger.GENESIS.equals(lastRelease) ? null : lastRelease);
            for (DeletionStep step : whileDeleting) {
                afterCommit.add(step.inTransaction(h, actor, found));
            }
            return found;
        });
        afterCommit.forEach(Runnable::run);
        onDelete.forEach(cleanup -> cleanup.accept(project));
    }

    /** The wire form without live-session counts: for callers that only need names and URLs. */
    public Project toWire(ProjectRecord p) {
        return toWire(p, Map.of());
    }

    /**
     * The wire form, with {@code liveByRelease} (release number → live sessions) shown as the
     * active release first, then every other release that has live sessions, newest first.
     */
    public Project toWire(ProjectRecord p, Map<Integer, Long> liveByRelease) {
        Project.CurrentRelease current = p.currentNumber() == null
                ? null
                : new Project.CurrentRelease("v" + p.currentNumber(), p.currentCommit());
        RepoBinding repo = p.repoUrl() == null ? null : new RepoBinding(p.repoUrl(), p.repoBranch());
        List<Project.ReleaseSessions> live = new ArrayList<>();
        if (p.currentNumber() != null) {
            live.add(new Project.ReleaseSessions("v" + p.currentNumber(), true,
                    liveByRelease.getOrDefault(p.currentNumber(), 0L)));
        }
        liveByRelease.entrySet().stream()
                .filter(e -> !e.getKey().equals(p.currentNumber()) && e.getValue() > 0)
                .sorted(Map.Entry.<Integer, Long>comparingByKey().reversed())
                .forEach(e -> live.add(new Project.ReleaseSessions("v" + e.getKey(), false, e.getValue())));
        String base = publicUrl.get();
        return new Project(p.name(), base + "/v1/projects/" + p.name(), base + "/git/" + p.name() + ".git",
                current, repo, live, p.createdAt(),
                p.pinned() ? new Pin("v" + p.pinnedNumber(), p.pinnedBy(), p.pinnedAt()) : null);
    }
}
