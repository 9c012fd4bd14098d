package dev.karta.server.datadir;

import dev.karta.server.repos.RepoStore;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import org.eclipse.jgit.internal.storage.file.ObjectDirectory;
import org.eclipse.jgit.internal.storage.file.PackIndex;
import org.eclipse.jgit.lib.ObjectId;
import org.eclipse.jgit.lib.Repository;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The pack one push stored in a repository's pack folder: the one that appeared while it was
 * received, is still locked by a {@code .keep} file (JGit removes it only after the ref updates)
 * and holds the commits the push names. Unsure (concurrent pushes), it is none.
 */
final class DataDirPushedPacks implements RepoStore.PushedPacks {
    private static final Logger LOG = LoggerFactory.getLogger(DataDirPushedPacks.class);

    private final Repository repo;
    private final Path packDir;
    private Set<String> before = Set.of();
    private String received;

    DataDirPushedPacks(Repository repo) {
        this.repo = repo;
        this.packDir = repo.getObjectDatabase() instanceof ObjectDirectory dir ? dir.getPackDirectory().toPath() : null;
    }

    @Override
    public void beforeReceive() throws IOException {
        before = packNames();
    }

    @Override
    public void afterReceive(List<ObjectId> pushed) {
        received = identify(before, pushed);
    }

    @Override
    public void takeBack() {
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
            repo.getObjectDatabase().has(ObjectId.zeroId());
            LOG.info("took back {} of a rejected push to {}", name, repo.getDirectory());
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
    private String identify(Set<String> before, List<ObjectId> pushed) {
        try {
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
