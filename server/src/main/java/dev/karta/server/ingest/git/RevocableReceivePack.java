package dev.karta.server.ingest.git;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import org.eclipse.jgit.errors.LargeObjectException;
import org.eclipse.jgit.internal.storage.file.PackIndex;
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
 * on disk for good.
 *
 * <p>The push's pack is the one that appeared while it was received, is still locked by a
 * {@code .keep} file (JGit removes it only after the ref updates) and holds the commits this push
 * names. When concurrent pushes make that ambiguous nothing is taken back: an object left over is
 * harmless, a missing one is not.
 */
final class RevocableReceivePack extends ReceivePack {
    private static final Logger LOG = LoggerFactory.getLogger(RevocableReceivePack.class);

    private final Path packDir;
    private String received;

    RevocableReceivePack(Repository repo) {
        super(repo);
        this.packDir = repo.getObjectDatabase() instanceof org.eclipse.jgit.internal.storage.file.ObjectDirectory dir
                ? dir.getPackDirectory().toPath() : null;
    }

    @Override
    protected void receivePackAndCheckConnectivity()
            throws IOException, LargeObjectException, SubmoduleValidationException {
        Set<String> before = packNames();
        try {
            super.receivePackAndCheckConnectivity();
        } finally {
            received = identify(before);
        }
    }

    /**
     * Deletes the pack this push stored, if it is known; call it only once no ref of this push was
     * updated (in the post-receive hook, with nothing accepted).
     */
    void takeBackPack() {
        if (received == null) {
            return;
        }
        String name = received;
        received = null;
        try (var files = Files.newDirectoryStream(packDir, name + ".*")) {
            List<Path> parts = new ArrayList<>();
            files.forEach(parts::add);
            // The .pack first: a reader that lists packs no longer finds it, then its index goes.
            parts.sort((a, b) -> Boolean.compare(!a.toString().endsWith(".pack"), !b.toString().endsWith(".pack")));
            for (Path part : parts) {
                Files.deleteIfExists(part);
            }
            // Looking up a missing object makes JGit rescan its pack folder and close the deleted pack.
            getRepository().getObjectDatabase().has(ObjectId.zeroId());
            LOG.info("took back {} of a rejected push to {}", name, getRepository().getDirectory());
        } catch (IOException e) {
            LOG.warn("could not remove {} of a rejected push: {}", name, e.toString());
        }
    }

    private Set<String> packNames() throws IOException {
        Set<String> names = new HashSet<>();
        if (packDir == null || !Files.isDirectory(packDir)) {
            return names;
        }
        try (var packs = Files.newDirectoryStream(packDir, "pack-*.pack")) {
            for (Path pack : packs) {
                String file = pack.getFileName().toString();
                names.add(file.substring(0, file.length() - ".pack".length()));
            }
        }
        return names;
    }

    /** The pack this push stored: new, still locked, and holding its commits; null if unsure. */
    private String identify(Set<String> before) {
        try {
            List<ObjectId> pushed = new ArrayList<>();
            for (ReceiveCommand cmd : getAllCommands()) {
                if (!cmd.getNewId().equals(ObjectId.zeroId())) {
                    pushed.add(cmd.getNewId());
                }
            }
            List<String> mine = new ArrayList<>();
            for (String name : packNames()) {
                if (before.contains(name) || !Files.exists(packDir.resolve(name + ".keep"))) {
                    continue;
                }
                PackIndex index = PackIndex.open(packDir.resolve(name + ".idx").toFile());
                if (!pushed.isEmpty() && pushed.stream().allMatch(index::hasObject)) {
                    mine.add(name);
                }
            }
            return mine.size() == 1 ? mine.get(0) : null;
        } catch (IOException | RuntimeException e) {
            LOG.debug("could not tell which pack a push stored: {}", e.toString());
            return null;
        }
    }
}
