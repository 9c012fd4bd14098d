package dev.karta.server.builds;

import dev.karta.server.Ids;
import dev.karta.server.deploys.DeployRecord;
import dev.karta.server.deploys.DeploySource;
import dev.karta.server.deploys.DeployStatus;
import dev.karta.server.deploys.DeployStore;
import dev.karta.server.events.Events;
import dev.karta.server.logs.LogSource;
import dev.karta.server.logs.LogStore;
import dev.karta.server.store.Database;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.jdbi.v3.core.Handle;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The persistent build queue. Claims are transactions guarded by the partial unique index
 * {@code deploys_one_building_per_project}, so two servers can never build one project at once.
 * A claimed deploy carries a lease its worker renews; a build whose lease ran out (its server
 * died) is retried once, or failed with the reason, by whichever server notices first. The holder
 * of a build is its attempt number: renewing, ending and activating all require the deploy to be
 * building in that attempt, so a server that lost its lease (paused, cut off from the database)
 * can no longer end or activate a deploy that another server has taken over. No org runs more
 * than its share of builds at once ({@code --max-builds-per-org}, counted over the database, so
 * across replicas), so one tenant's slow builds cannot hold every worker while another tenant
 * waits.
 */
public final class BuildQueue {
    private static final Logger LOG = LoggerFactory.getLogger(BuildQueue.class);
    static final int MAX_ATTEMPTS = 2;

    private final Database db;
    private final DeployStore store;
    private final LogStore logs;
    private final Duration lease;
    private final int buildsPerOrg;

    public BuildQueue(Database db, DeployStore store, LogStore logs, Duration lease, int buildsPerOrg) {
        if (buildsPerOrg < 1) {
            throw new IllegalArgumentException("builds per org must be at least 1");
        }
        this.db = db;
        this.store = store;
        this.logs = logs;
        this.lease = lease;
        this.buildsPerOrg = buildsPerOrg;
    }

    public Duration lease() {
        return lease;
    }

    /** Records a queued deploy inside the caller's transaction, superseding older queued ones. */
    public DeployRecord enqueue(Handle h, String projectId, String commitSha, DeploySource source, String artifact,
                                String contentDigest, String actorKeyId, String trigger, String idempotencyKey) {
        DeployRecord queued = store.enqueue(h, Ids.next("dep"), projectId, commitSha, source, artifact, contentDigest,
                actorKeyId, trigger, idempotencyKey, System.currentTimeMillis());
        Events.record(h, queued.orgId(), queued.projectName(), Events.DEPLOY_QUEUED,
                Events.data("deploy", queued.eventData()));
        return queued;
    }

    private static void recordFailed(Handle h, DeployRecord deploy, String reason) {
        Events.record(h, deploy.orgId(), deploy.projectName(), Events.DEPLOY_FAILED,
                Events.data("deploy", deploy.eventData(), "error", reason));
    }

    /** Takes the oldest runnable deploy, or empty when none may start now. */
    Optional<DeployRecord> claimNext() {
        try {
            return db.inTransaction(h -> {
                Optional<DeployStore.Claimable> next = store.nextClaimable(h, buildsPerOrg);
                if (next.isEmpty()) {
                    return Optional.empty();
                }
                store.lockOrg(h, next.get().orgId());
                if (store.buildingOfOrg(h, next.get().orgId()) >= buildsPerOrg) {
                    return Optional.empty(); // another server took the org's last slot meanwhile
                }
                long now = System.currentTimeMillis();
                if (!store.claim(h, next.get().deployId(), now, now + lease.toMillis())) {
                    return Optional.empty();
                }
                return store.byId(h, next.get().deployId());
            });
        } catch (RuntimeException e) {
            if (Database.isUniqueViolation(e)) {
                return Optional.empty();
            }
            throw e;
        }
    }

    /**
     * Whether {@code deploy}, claimed here, is now queued again or building in a later attempt:
     * its lease ran out and another server (or this one's recovery) took it over.
     */
    boolean ownedElsewhere(DeployRecord deploy) {
        return store.byId(deploy.id())
                .map(now -> now.status() == DeployStatus.QUEUED
                        || now.status() == DeployStatus.BUILDING && now.attempts() != deploy.attempts())
                .orElse(false);
    }

    /** Extends the lease of a build running here; false when this server no longer holds it. */
    boolean renew(DeployRecord deploy) {
        return store.renewLease(deploy.id(), deploy.attempts(), System.currentTimeMillis() + lease.toMillis());
    }

    /**
     * Retries or fails builds whose lease has run out. With {@code all}, every building deploy is
     * taken as interrupted: right for SQLite at start-up, where no other server shares the file.
     */
    void recover(boolean all) {
        long now = System.currentTimeMillis();
        long cutoff = all ? Long.MAX_VALUE : now;
        List<DeployRecord> expired = db.withHandle(h -> store.expiredBuilds(h, cutoff));
        for (DeployRecord deploy : expired) {
            String message = db.inTransaction(h -> {
                if (!store.holdExpired(h, deploy.id(), deploy.attempts(), cutoff)) {
                    return null; // another server recovered it first, or its lease was renewed
                }
                String outcome;
                if (store.hasNewerQueued(h, deploy)) {
                    store.finish(h, deploy.id(), deploy.attempts(), DeployStatus.SUPERSEDED, null,
                            "interrupted, and superseded by a newer deploy", now);
                    outcome = "Build interrupted (its server stopped); a newer deploy supersedes it";
                } else if (deploy.attempts() < MAX_ATTEMPTS) {
                    store.requeue(h, deploy.id());
                    outcome = "Build interrupted (its server stopped); queued again";
                } else {
                    String reason = "build interrupted " + deploy.attempts() + " times: the server running it stopped";
                    store.finish(h, deploy.id(), deploy.attempts(), DeployStatus.FAILED, null, reason, now);
                    recordFailed(h, deploy, reason);
                    outcome = "Build failed: interrupted " + deploy.attempts() + " times; giving up";
                }
                logs.append(h, deploy.projectId(), LogSource.BUILD, deploy.id(), null, outcome);
                return outcome;
            });
            if (message == null) {
                continue;
            }
            LOG.warn("deploy {} of {}: {}", deploy.id(), deploy.projectName(), message);
            logs.bus().publish(deploy.projectId());
        }
    }

    /**
     * Ends a deploy as failed (or canceled) with its reason, logged in the same transaction so a
     * follower that sees the deploy ended also sees why. Does nothing if it already ended, or if
     * another attempt owns it now (this server's lease ran out and another server took it over).
     */
    void finish(DeployRecord deploy, DeployStatus status, String reason) {
        boolean changed = db.inTransaction(h -> {
            boolean ended = store.finish(h, deploy.id(), deploy.attempts(), status, null, reason,
                    System.currentTimeMillis());
            if (ended && status == DeployStatus.FAILED) {
                recordFailed(h, deploy, reason);
            }
            if (ended) {
                logs.append(h, deploy.projectId(), LogSource.BUILD, deploy.id(), null,
                        (status == DeployStatus.FAILED ? "Build failed: " : "Build " + status.wireName() + ": ") + reason);
            }
            return ended;
        });
        if (changed) {
            logs.bus().publish(deploy.projectId());
        }
    }
}
