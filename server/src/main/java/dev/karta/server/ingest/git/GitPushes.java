package dev.karta.server.ingest.git;

import dev.karta.api.Printable;
import dev.karta.server.audit.AuditLog;
import dev.karta.server.deploys.DeployRecord;
import dev.karta.server.deploys.DeploySource;
import dev.karta.server.deploys.DeployStatus;
import dev.karta.server.http.ApiError;
import dev.karta.server.ingest.Ingest;
import dev.karta.server.logs.LogSource;
import dev.karta.server.logs.LogStore;
import dev.karta.server.projects.ProjectRecord;
import dev.karta.server.projects.ProjectStore;
import dev.karta.server.projects.Projects;
import dev.karta.server.repos.GitRepos;
import dev.karta.server.store.Database;
import java.io.IOException;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Optional;
import org.eclipse.jgit.lib.Constants;
import org.eclipse.jgit.lib.ObjectId;
import org.eclipse.jgit.lib.PersonIdent;
import org.eclipse.jgit.lib.Ref;
import org.eclipse.jgit.lib.Repository;
import org.eclipse.jgit.transport.ReceiveCommand;
import org.eclipse.jgit.transport.ReceivePack;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * What a push does. Its ref updates are checked in a pre-receive hook, after the pack is stored
 * and before any ref moves: the deploy branch's new commit goes through {@link Ingest} (source
 * {@code git_push}) and the hook waits for that deploy, streaming its build log to the pusher as
 * {@code remote:} lines. A release lets the ref update go ahead (on a pinned project too: the release
 * is built but not live, and the lines say so); anything else rejects it with the
 * reason, so {@code git push} fails, the branch stays where it was and the objects the push brought
 * are removed again. Deleting the deploy branch
 * is refused; other refs are stored without deploying. Every push is audited ({@code git.push},
 * with the pusher's key) and written to the project's log.
 */
final class GitPushes implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(GitPushes.class);
    private static final int MAX_REASON = 1000;

    private final Database db;
    private final GitRepos repos;
    private final Ingest ingest;
    private final ProjectStore projectStore;
    private final Projects projects;
    private final DeployFollower follower;
    private final AuditLog audit;
    private final LogStore logs;
    private final PushLocks locks;
    private final long maxPackBytes;

    GitPushes(Database db, GitRepos repos, Ingest ingest, ProjectStore projectStore, Projects projects,
              DeployFollower follower, AuditLog audit, LogStore logs, long maxPackBytes) {
        this.db = db;
        this.repos = repos;
        this.ingest = ingest;
        this.projectStore = projectStore;
        this.projects = projects;
        this.follower = follower;
        this.audit = audit;
        this.logs = logs;
        this.maxPackBytes = maxPackBytes;
        this.locks = new PushLocks(db);
    }

    /** Lets go of what pushes keep between them (the lock connections). */
    @Override
    public void close() {
        locks.close();
    }

    /** A receive-pack for one push by {@code caller}, with Karta's hooks. */
    ReceivePack receivePack(GitCaller caller, Repository repo) {
        RevocableReceivePack rp = new RevocableReceivePack(repo, repos.trackPacks(repo));
        rp.setAllowCreates(true);
        rp.setAllowNonFastForwards(true); // force pushes deploy too
        rp.setAllowDeletes(true);         // except of the deploy branch: refused by the hook
        rp.setMaxPackSizeLimit(maxPackBytes);
        rp.setRefLogIdent(new PersonIdent(caller.principal().keyName() == null ? caller.principal().keyId()
                : caller.principal().keyName(), caller.principal().keyId() + "@karta"));
        rp.setPreReceiveHook((receivePack, commands) -> preReceive(caller, receivePack, commands));
        // JGit runs the post-receive hook whenever the pre-receive hook ran, even after a failure, and
        // passes only the accepted updates: none means the push changed nothing, so its objects go too.
        rp.setPostReceiveHook((receivePack, accepted) -> {
            try {
                if (accepted.isEmpty()) {
                    rp.takeBackPack();
                } else {
                    repos.added(receivePack.getRepository());
                }
                // Said only now, for the updates that were made: an atomic push whose deploy
                // failed stores nothing, and a ref whose update failed was not stored either.
                Remote remote = new Remote(receivePack);
                String deployRef = Constants.R_HEADS + caller.project().deployBranch();
                for (ReceiveCommand cmd : accepted) {
                    if (!cmd.getRefName().equals(deployRef)) {
                        remote.say(describeStored(cmd, caller.project()));
                    }
                }
            } finally {
                locks.unlockIfHeld(caller.project().id());
            }
        });
        return rp;
    }

    private void preReceive(GitCaller caller, ReceivePack rp, Collection<ReceiveCommand> commands) {
        if (commands.isEmpty()) {
            return; // every update was refused already (a shallow clone's push): nothing to lock or record
        }
        Remote remote = new Remote(rp);
        String name = caller.project().name();
        try {
            locks.lock(caller.project().id(), () -> remote.say("Waiting for another push to " + name + " to finish…"));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            rejectAll(commands, "the server is shutting down; push again");
            return;
        } catch (RuntimeException e) {
            LOG.error("push to {} could not take its lock (request {})", name, caller.actor().requestId(), e);
            rejectAll(commands, "the database is unavailable; push again (request " + caller.actor().requestId() + ")");
            return;
        }
        try {
            // Another server may have moved a ref while this push waited: read them afresh.
            rp.getRepository().scanForRepoChanges();
            Optional<ProjectRecord> project = projectStore.find(caller.principal().orgId(), name)
                    .filter(p -> p.id().equals(caller.project().id()));
            if (project.isEmpty()) {
                rejectAll(commands, "project " + name + " was deleted during the push");
                return;
            }
            handle(caller, project.get(), rp, commands, remote);
        } catch (RuntimeException | IOException e) {
            LOG.error("push to {} failed (request {})", name, caller.actor().requestId(), e);
            rejectAll(commands, "internal error; quote request id " + caller.actor().requestId());
        }
    }

    private void handle(GitCaller caller, ProjectRecord project, ReceivePack rp, Collection<ReceiveCommand> commands,
                        Remote remote) throws IOException {
        String deployRef = Constants.R_HEADS + project.deployBranch();
        ReceiveCommand deploying = null;
        for (ReceiveCommand cmd : commands) {
            if (movedSinceAdvertised(rp.getRepository(), cmd)) {
                cmd.setResult(ReceiveCommand.Result.REJECTED_OTHER_REASON,
                        "another push updated it meanwhile; fetch and push again");
            } else if (cmd.getRefName().equals(deployRef)) {
                if (cmd.getType() == ReceiveCommand.Type.DELETE) {
                    cmd.setResult(ReceiveCommand.Result.REJECTED_OTHER_REASON, "'" + project.deployBranch()
                            + "' is the deploy branch of " + project.name() + " and cannot be deleted");
                } else {
                    deploying = cmd;
                }
            }
        }
        record(caller, project, commands, deploying);
        if (deploying != null) {
            deploy(caller, project, deploying, remote);
        }
    }

    /** The ref no longer holds what this push was told (another push landed while this one waited). */
    private static boolean movedSinceAdvertised(Repository repo, ReceiveCommand cmd) throws IOException {
        Ref ref = repo.exactRef(cmd.getRefName());
        ObjectId current = ref == null || ref.getObjectId() == null ? ObjectId.zeroId() : ref.getObjectId();
        return !current.equals(cmd.getOldId());
    }

    private void deploy(GitCaller caller, ProjectRecord project, ReceiveCommand cmd, Remote remote) {
        String sha = cmd.getNewId().name();
        DeployRecord deploy;
        try {
            deploy = ingest.accept(caller.actor(), project.name(), false, new Ingest.Arrival(DeploySource.GIT_PUSH,
                    sha, null, null, "git push to " + project.deployBranch()));
        } catch (ApiError e) {
            cmd.setResult(ReceiveCommand.Result.REJECTED_OTHER_REASON, oneLine(e.getMessage()));
            return;
        }
        Optional<DeployRecord> ended;
        try {
            ended = follower.follow(deploy, remote::say);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            cmd.setResult(ReceiveCommand.Result.REJECTED_OTHER_REASON, "the server stopped before deploy "
                    + deploy.id() + " ended; its outcome will be in the project's log");
            return;
        }
        if (ended.isEmpty()) {
            cmd.setResult(ReceiveCommand.Result.REJECTED_OTHER_REASON, "project " + project.name()
                    + " was deleted during the push");
            return;
        }
        DeployRecord result = ended.get();
        if (result.status() == DeployStatus.SUCCEEDED) {
            // A pinned project builds the release but keeps serving the pinned one: the push still
            // succeeds (the commit is stored, the release exists), and says the release is not live.
            ProjectRecord now = projectStore.byId(result.projectId()).orElse(project);
            if (!now.pinned() || result.releaseNumber().equals(now.currentNumber())) {
                remote.say("Released v" + result.releaseNumber() + " — " + projects.toWire(project).url());
            } else {
                remote.say("Built v" + result.releaseNumber() + ", not live: " + project.name() + " is pinned to v"
                        + now.pinnedNumber() + " and still serves v" + now.currentNumber() + " — "
                        + projects.toWire(project).url());
            }
            return;
        }
        String reason = result.status() == DeployStatus.FAILED
                ? "build failed: " + result.error()
                : "deploy " + result.id() + " " + result.status().wireName()
                        + (result.error() == null ? "" : ": " + result.error());
        remote.say("Push rejected: '" + project.deployBranch() + "' was not moved; " + (project.currentNumber() == null
                ? project.name() + " has no release yet" : project.name() + " still serves v" + project.currentNumber()));
        cmd.setResult(ReceiveCommand.Result.REJECTED_OTHER_REASON, oneLine(reason));
    }

    /** One audit event per ref ({@code git.push}, with the pusher's key) and one log entry per push. */
    private void record(GitCaller caller, ProjectRecord project, Collection<ReceiveCommand> commands,
                        ReceiveCommand deploying) {
        List<String> parts = new ArrayList<>();
        db.inTransaction(h -> {
            for (ReceiveCommand cmd : commands) {
                String outcome = cmd == deploying ? "deploying"
                        : cmd.getResult() != ReceiveCommand.Result.NOT_ATTEMPTED ? "refused"
                        : cmd.getType() == ReceiveCommand.Type.DELETE ? "deleting" : "stored";
                parts.add(describeUpdate(cmd) + " (" + outcome + ")");
                audit.append(h, caller.actor(), "git.push", "project:" + project.name() + "/" + cmd.getRefName()
                        + (cmd.getType() == ReceiveCommand.Type.DELETE ? " deleted"
                                : "@" + cmd.getNewId().abbreviate(12).name()));
            }
            logs.append(h, project.id(), LogSource.SYSTEM, null, null, "git push by key " + caller.principal().keyId()
                    + ": " + String.join(", ", parts));
            return null;
        });
        logs.bus().publish(project.id());
    }

    private static String describeUpdate(ReceiveCommand cmd) {
        String ref = Repository.shortenRefName(cmd.getRefName());
        String from = cmd.getOldId().abbreviate(7).name();
        String to = cmd.getNewId().abbreviate(7).name();
        return switch (cmd.getType()) {
            case CREATE -> ref + " new at " + to;
            case UPDATE -> ref + " " + from + ".." + to;
            case UPDATE_NONFASTFORWARD -> ref + " " + from + "..." + to + " forced";
            case DELETE -> ref + " deleted (was " + from + ")";
        };
    }

    private static String describeStored(ReceiveCommand cmd, ProjectRecord project) {
        String kind = cmd.getRefName().startsWith(Constants.R_HEADS) ? "branch"
                : cmd.getRefName().startsWith(Constants.R_TAGS) ? "tag" : "ref";
        String ref = Repository.shortenRefName(cmd.getRefName());
        if (cmd.getType() == ReceiveCommand.Type.DELETE) {
            return "Deleted " + kind + " '" + ref + "'";
        }
        return "Stored " + kind + " '" + ref + "', not deployed: pushes to '" + project.deployBranch() + "' deploy "
                + project.name();
    }

    private static void rejectAll(Collection<ReceiveCommand> commands, String reason) {
        for (ReceiveCommand cmd : commands) {
            if (cmd.getResult() == ReceiveCommand.Result.NOT_ATTEMPTED) {
                cmd.setResult(ReceiveCommand.Result.REJECTED_OTHER_REASON, reason);
            }
        }
    }

    /** A reason fit for a report-status line: one line, bounded. */
    private static String oneLine(String reason) {
        String flat = Printable.line(reason.replaceAll("[\\r\\n]+", " ").trim());
        return flat.length() > MAX_REASON ? flat.substring(0, MAX_REASON) + "…" : flat;
    }

    /**
     * The pusher's terminal: each line becomes a {@code remote:} line at once (side-band channel 2),
     * its control sequences and characters removed ({@link Printable#line}), since lines can carry a
     * tenant's text (a build log line).
     */
    private static final class Remote {
        private final ReceivePack rp;

        Remote(ReceivePack rp) {
            this.rp = rp;
        }

        void say(String text) {
            for (String line : text.split("\\r?\\n", -1)) {
                rp.sendMessage(Printable.line(line));
            }
            try {
                rp.getMessageOutputStream().flush();
            } catch (IOException e) {
                // The pusher hung up. The deploy goes on regardless; its log keeps every line.
                LOG.debug("push client went away: {}", e.toString());
            }
        }
    }
}
