package dev.karta.server.ingest.git;

import dev.karta.server.repos.RepoStore;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import org.eclipse.jgit.errors.LargeObjectException;
import org.eclipse.jgit.errors.MissingObjectException;
import org.eclipse.jgit.internal.submodule.SubmoduleValidator.SubmoduleValidationException;
import org.eclipse.jgit.lib.ObjectId;
import org.eclipse.jgit.lib.Repository;
import org.eclipse.jgit.transport.ReceiveCommand;
import org.eclipse.jgit.transport.ReceivePack;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A receive-pack that can take back the pack its push stored. JGit writes a push's pack into the
 * repository before any hook runs (the build reads the pushed commit from it), and keeps it even
 * when every ref update is then rejected; without this, each failed push would leave its objects
 * in the {@link RepoStore} for good. The store tells which pack the push stored
 * ({@link RepoStore.PushedPacks}); when concurrent pushes make that ambiguous nothing is taken
 * back: an object left over is harmless, a missing one is not.
 */
final class RevocableReceivePack extends ReceivePack {
    /** Issue 16: the one line a push from a shallow clone gets, per ref. */
    static final String SHALLOW = "shallow clone: run git fetch --unshallow, or use actions/checkout with "
            + "fetch-depth: 0";
    private static final Logger LOG = LoggerFactory.getLogger(RevocableReceivePack.class);

    private final RepoStore.PushedPacks packs;

    RevocableReceivePack(Repository repo, RepoStore.PushedPacks packs) {
        super(repo);
        this.packs = packs;
    }

    /**
     * Receives the pack and checks that every pushed commit's history is complete. A pack that
     * names a parent this repository lacks comes from a shallow clone (a CI checkout with
     * {@code fetch-depth: 1}, say): JGit would answer with an unpacker error and log a stack
     * trace; instead every ref update is rejected with {@value #SHALLOW}, the one line git then
     * shows per ref, and the pack is taken back after the push as for any rejected push.
     */
    @Override
    protected void receivePackAndCheckConnectivity()
            throws IOException, LargeObjectException, SubmoduleValidationException {
        packs.beforeReceive();
        try {
            super.receivePackAndCheckConnectivity();
        } catch (MissingObjectException e) {
            LOG.info("push to {} refused: its history lacks {} (a shallow clone)", getRepository(),
                    e.getObjectId() == null ? "an object" : e.getObjectId().name());
            for (ReceiveCommand cmd : getAllCommands()) {
                if (cmd.getResult() == ReceiveCommand.Result.NOT_ATTEMPTED) {
                    cmd.setResult(ReceiveCommand.Result.REJECTED_OTHER_REASON, SHALLOW);
                }
            }
        } finally {
            List<ObjectId> pushed = new ArrayList<>();
            for (ReceiveCommand cmd : getAllCommands()) {
                if (!cmd.getNewId().equals(ObjectId.zeroId())) {
                    pushed.add(cmd.getNewId());
                }
            }
            packs.afterReceive(pushed);
        }
    }

    /**
     * Deletes the pack this push stored, if it is known; call it only once no ref of this push was
     * updated (in the post-receive hook, with nothing accepted).
     */
    void takeBackPack() {
        packs.takeBack();
    }
}
