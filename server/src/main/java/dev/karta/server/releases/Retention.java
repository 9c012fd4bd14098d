package dev.karta.server.releases;

import dev.karta.server.DataDir;
import dev.karta.server.build.Materializer;
import dev.karta.server.store.Database;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.stream.Stream;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.function.Function;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Prunes release trees beyond {@code --keep-releases} per project. Never pruned: the active
 * release, the newest other release (the usual rollback target), the newest {@code keep}, any
 * release a live session is pinned to, and any tree another kept release or a pending deploy
 * shares. Release rows stay: history is immutable; a pruned release just cannot be activated.
 * After a project is deleted, {@link #sweepUnreferenced()} frees the trees and archives that no
 * remaining release or deploy refers to.
 */
public final class Retention {
    private static final Logger LOG = LoggerFactory.getLogger(Retention.class);
    /** Younger files may belong to an upload that is being accepted right now. */
    private static final Duration GRACE = Duration.ofMinutes(10);

    private final Database db;
    private final DataDir dataDir;
    private final int keep;
    private final Function<String, Set<String>> pinnedReleaseIds;

    /** {@code pinnedReleaseIds} maps a project id to the ids of releases live sessions use. */
    public Retention(Database db, DataDir dataDir, int keep, Function<String, Set<String>> pinnedReleaseIds) {
        this.db = db;
        this.dataDir = dataDir;
        this.keep = keep;
        this.pinnedReleaseIds = pinnedReleaseIds;
    }

    public void prune(String projectId) {
        if (keep <= 0) {
            return;
        }
        record Row(String id, String digest) {
        }
        List<Row> releases = db.withHandle(h -> h.createQuery(
                        "SELECT id, content_digest FROM releases WHERE project_id = :p ORDER BY number DESC")
                .bind("p", projectId).map((rs, ctx) -> new Row(rs.getString("id"), rs.getString("content_digest")))
                .list());
        String current = db.withHandle(h -> h.createQuery("SELECT current_release_id FROM projects WHERE id = :p")
                .bind("p", projectId).mapTo(String.class).findOne().orElse(null));
        Set<String> pinned = pinnedReleaseIds.apply(projectId);
        Set<String> keptDigests = new HashSet<>();
        Set<String> candidates = new HashSet<>();
        boolean newestOtherKept = false;
        for (int i = 0; i < releases.size(); i++) {
            Row r = releases.get(i);
            boolean newestOther = !newestOtherKept && !r.id().equals(current);
            newestOtherKept |= newestOther;
            if (i < keep || r.id().equals(current) || newestOther || pinned.contains(r.id())) {
                keptDigests.add(r.digest());
            } else {
                candidates.add(r.digest());
            }
        }
        candidates.removeAll(keptDigests);
        for (String digest : candidates) {
            boolean sharedElsewhere = db.withHandle(h -> h.createQuery("""
                            SELECT COUNT(*) FROM (
                              SELECT 1 FROM releases WHERE content_digest = :d AND project_id <> :p
                              UNION ALL
                              SELECT 1 FROM deploys WHERE content_digest = :d AND status IN ('queued', 'building')
                            ) refs
                            """)
                    .bind("d", digest).bind("p", projectId).mapTo(Long.class).one()) > 0;
            if (!sharedElsewhere) {
                try {
                    Materializer.deleteRecursively(dataDir.tree(digest));
                    LOG.info("pruned release tree {} of project {}", digest, projectId);
                } catch (IOException e) {
                    LOG.warn("could not prune release tree {}: {}", digest, e.toString());
                }
            }
        }
    }

    /** Deletes release trees and uploaded archives no release or deploy refers to any more. */
    public void sweepUnreferenced() {
        sweepUnreferenced(GRACE);
    }

    /** As {@link #sweepUnreferenced()}, sparing files younger than {@code grace}. */
    void sweepUnreferenced(Duration grace) {
        Set<String> trees = new HashSet<>(db.withHandle(h -> h.createQuery(
                "SELECT content_digest FROM releases UNION SELECT content_digest FROM deploys "
                        + "WHERE content_digest IS NOT NULL").mapTo(String.class).list()));
        Set<String> archives = new HashSet<>(db.withHandle(h -> h.createQuery(
                "SELECT artifact FROM deploys WHERE artifact IS NOT NULL").mapTo(String.class).list()));
        Instant cutoff = Instant.now().minus(grace);
        sweep(dataDir.trees(), cutoff, name -> !name.startsWith(".") && !trees.contains("sha256:" + name));
        sweep(dataDir.artifacts(), cutoff, name -> name.endsWith(".tar.gz")
                && !archives.contains(name.substring(0, name.length() - ".tar.gz".length())));
    }

    private static void sweep(Path dir, Instant cutoff, java.util.function.Predicate<String> unreferenced) {
        if (!Files.isDirectory(dir)) {
            return;
        }
        try (Stream<Path> children = Files.list(dir)) {
            for (Path child : children.toList()) {
                String name = child.getFileName().toString();
                if (unreferenced.test(name) && Files.getLastModifiedTime(child).toInstant().isBefore(cutoff)) {
                    Materializer.deleteRecursively(child);
                    LOG.info("removed unreferenced {}", child);
                }
            }
        } catch (IOException e) {
            LOG.warn("could not sweep {}: {}", dir, e.toString());
        }
    }
}
