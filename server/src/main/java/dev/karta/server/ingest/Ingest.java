package dev.karta.server.ingest;

import dev.karta.api.Commits;
import dev.karta.server.audit.AuditLog;
import dev.karta.server.builds.BuildQueue;
import dev.karta.server.builds.BuildWorkers;
import dev.karta.server.deploys.DeployRecord;
import dev.karta.server.deploys.DeploySource;
import dev.karta.server.deploys.DeployStore;
import dev.karta.server.http.Actor;
import dev.karta.server.http.ApiError;
import dev.karta.server.logs.LogSource;
import dev.karta.server.logs.LogStore;
import dev.karta.server.orgs.OrgQuota;
import dev.karta.server.projects.ProjectRecord;
import dev.karta.server.projects.ProjectStore;
import dev.karta.server.projects.Projects;
import dev.karta.server.store.Database;
import java.time.Duration;
import java.util.function.BiConsumer;
import org.jdbi.v3.core.Handle;

/**
 * The single call every door ends in: finds (or, when allowed, creates) the project, records the
 * deploy with its source, commit and actor, supersedes older queued deploys, appends the audit
 * event and a log entry, all in one transaction, then wakes the build workers. An org with its
 * limit of queued deploys gets 429, whatever the door (upload, push, commit, webhook).
 */
public final class Ingest {
    /** Builds take tens of seconds to minutes. */
    private static final Duration RETRY_AFTER = Duration.ofSeconds(30);

    private final Database db;
    private final Projects projects;
    private final ProjectStore projectStore;
    private final BuildQueue queue;
    private final BuildWorkers workers;
    private final AuditLog audit;
    private final LogStore logs;
    private final DeployStore deploys;
    private final int maxQueuedPerOrg;

    public Ingest(Database db, Projects projects, ProjectStore projectStore, BuildQueue queue, BuildWorkers workers, AuditLog audit,
                  LogStore logs, DeployStore deploys, int maxQueuedPerOrg) {
        this.deploys = deploys;
        this.maxQueuedPerOrg = maxQueuedPerOrg;
        this.db = db;
        this.projects = projects;
        this.projectStore = projectStore;
        this.queue = queue;
        this.workers = workers;
        this.audit = audit;
        this.logs = logs;
    }

    /**
     * What arrived: the door, the commit it names, and for uploads the stored archive and its tree;
     * what its release will record as its trigger, and the request's {@code Idempotency-Key}.
     */
    public record Arrival(DeploySource source, String commitSha, String artifact, String contentDigest,
                          String description, String trigger, String idempotencyKey) {
        /** An arrival whose trigger is its door, without idempotency key. */
        public Arrival(DeploySource source, String commitSha, String artifact, String contentDigest,
                       String description) {
            this(source, commitSha, artifact, contentDigest, description, source.wireName(), null);
        }
    }

    /** Records and queues a deploy of {@code projectName}; creates the project first when {@code create}. */
    public DeployRecord accept(Actor actor, String projectName, boolean create, Arrival arrival) {
        return accept(actor, projectName, create, arrival, (h, deploy) -> { });
    }

    /**
     * Like {@link #accept(Actor, String, boolean, Arrival)}, and runs {@code alsoInTransaction} in
     * the transaction that records the deploy (a webhook records its delivery id there), so both
     * commit or neither does. It may run twice when a first attempt hit a unique violation.
     */
    public DeployRecord accept(Actor actor, String projectName, boolean create, Arrival arrival,
                               BiConsumer<Handle, DeployRecord> alsoInTransaction) {
        Projects.validateName(projectName);
        for (int attempt = 0; ; attempt++) {
            try {
                return record(actor, projectName, create, arrival, alsoInTransaction);
            } catch (RuntimeException e) {
                if (!Database.isUniqueViolation(e)) {
                    throw e;
                }
                // Two first deploys of one new name raced to create it: the retry sees it. A name
                // that stays taken belongs to another org.
                if (attempt > 0) {
                    throw ApiError.conflict("project name '" + projectName + "' is already taken");
                }
            }
        }
    }

    private DeployRecord record(Actor actor, String projectName, boolean create, Arrival arrival,
                                BiConsumer<Handle, DeployRecord> alsoInTransaction) {
        DeployRecord deploy = db.inTransaction(h -> {
            OrgQuota.lock(h, actor.orgId());
            ProjectRecord project = projectStore.find(h, actor.orgId(), projectName).orElse(null);
            if (project == null && !create) {
                throw ApiError.notFound("project", projectName);
            }
            checkQueued(h, actor.orgId(), project);
            if (project == null) {
                project = projects.create(h, actor, projectName);
            }
            DeployRecord queued = queue.enqueue(h, project.id(), arrival.commitSha(), arrival.source(),
                    arrival.artifact(), arrival.contentDigest(), actor.keyId(), arrival.trigger(),
                    arrival.idempotencyKey());
            audit.append(h, actor, "deploy.create", "project:" + project.name() + "/" + queued.id());
            logs.append(h, project.id(), LogSource.BUILD, queued.id(), null, "Deploy " + queued.id() + " accepted from "
                    + arrival.source().wireName() + ", commit " + Commits.shortSha(arrival.commitSha())
                    + (arrival.description() == null ? "" : ": " + arrival.description()));
            alsoInTransaction.accept(h, queued);
            return queued;
        });
        logs.bus().publish(deploy.projectId());
        workers.wake();
        return deploy;
    }

    /**
     * Refuses early what {@link #accept} would refuse for the org's limits (queued deploys, and
     * projects when {@code create} would make one), so an upload over a limit is not read first.
     * Not atomic: {@code accept} checks again under the org's lock.
     */
    public void checkLimits(Actor actor, String projectName, boolean create) {
        db.withHandle(h -> {
            ProjectRecord project = projectStore.find(h, actor.orgId(), projectName).orElse(null);
            checkQueued(h, actor.orgId(), project);
            if (project == null && create) {
                projects.checkRoom(h, actor.orgId());
            }
            return null;
        });
    }

    private void checkQueued(Handle h, String orgId, ProjectRecord project) {
        if (deploys.queuedInOrg(h, orgId, project == null ? null : project.id()) >= maxQueuedPerOrg) {
            throw ApiError.tooManyRequests("this org has its limit of " + maxQueuedPerOrg + " queued deploys "
                    + "(--max-queued-deploys-per-org); retry when some have started building", RETRY_AFTER);
        }
    }
}
