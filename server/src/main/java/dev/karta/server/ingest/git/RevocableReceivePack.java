package dev.karta.server.ingest.git;

import dev.karta.server.repos.RepoStore;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import org.eclipse.jgit.errors.LargeObjectException;
import org.eclipse.jgit.internal.submodule.SubmoduleValidator.SubmoduleValidationException;
import org.eclipse.jgit.lib.ObjectId;
import org.eclipse.jgit.lib.Repository;
import org.eclipse.jgit.transport.ReceiveCommand;
import org.eclipse.jgit.transport.ReceivePack;

/**
 * A receive-pack that can take back the pack its push stored. JGit writes a push's pack into the
 * repository before any hook runs (the build reads the pushed commit from it), and keeps it even
 * when every ref update is then rejected; without this, each failed push would leave its objects
 * in the {@link RepoStore} for good. The store tells which pack the push stored
 * ({@link RepoStore.PushedPacks}); when concurrent pushes make that ambiguous nothing is taken
 * back: an object left over is harmless, a missing one is not.
 */
final class RevocableReceivePack extends ReceivePack {
    private final RepoStore.PushedPacks packs;

    RevocableReceivePack(Repository repo, RepoStore.PushedPacks packs) {
        super(repo);
        this.packs = packs;
    }

    @Override
    protected void receivePackAndCheckConnectivity()
            throws IOException, LargeObjectException, SubmoduleValidationException {
        packs.beforeReceive();
        try {
            super.receivePackAndCheckConnectivity();
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
