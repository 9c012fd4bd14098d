package dev.karta.server.releases;

import dev.karta.server.build.ReleaseFiles;
import dev.karta.server.projects.ProjectStore;
import dev.karta.server.store.Database;
import java.io.IOException;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashSet;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.function.Function;
import org.jdbi.v3.core.Handle;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Prunes release trees beyond {@code --keep-releases} per project. Never pruned: the active
 * release, the newest other release (the usual rollback target), the newest {@code keep}, any
 * release a live session is pinned to, and any tree another kept release or a pending deploy
 * shares. Release rows stay: history is immutable; a pruned release is marked ({@code pruned_at})
 * and cannot be activated.
 * After a project is deleted, {@link #sweepUnreferenced()} frees the trees and archives that no
 * remaining release or deploy refers to. A preview release holds its tree like a release until its
 * preview expires and no live session runs it ({@code preview_releases.released_at}); then
 * {@link #release} takes the tree away unless something else uses it.
 */
public final class Retention {
    private static final Logger LOG = LoggerFactory.getLogger(Retention.class);
    /** Younger files may belong to an upload that is being accepted right now. */
    private static final Duration GRACE = Duration.ofMinutes(10);

    private final Database db;
    private final ReleaseFiles files;
    private final int keep;
    private final Function<String, Set<String>> pinnedReleaseIds;

    /** {@code pinnedReleaseIds} maps a project id to the ids of releases live sessions use. */
    public Retention(Database db, ReleaseFiles files, int keep, Function<String, Set<String>> pinnedReleaseIds) {
        this.db = db;
        this.files = files;
        this.keep = keep;
        this.pinnedReleaseIds = pinnedReleaseIds;
    }

    /**
     * Prunes the project's release trees beyond {@code keep}. What to prune is decided, and marked
     * ({@code releases.pruned_at}), in one transaction under the project's row lock, the lock a
     * rollback takes too: a rollback either commits first, and its release is kept, or sees the mark
     * and is refused. Each tree is then taken away in a transaction of its own that locks it and
     * checks once more that no release (of any project, trees are shared by content) and no
     * pending upload uses it; it is renamed out of the tree store there, and deleted after commit.
     */
    public void prune(String projectId) {
        if (keep <= 0) {
            return;
        }
        List<String> doomed = db.inTransaction(h -> decide(h, projectId));
        for (String digest : doomed) {
            try {
                ReleaseFiles.Removal removal = db.inTransaction(h -> takeAway(h, digest));
                if (removal == null) {
                    continue;
                }
                removal.finish();
                LOG.info("pruned release tree {} of project {}", digest, projectId);
            } catch (IOException e) {
                LOG.warn("could not delete pruned release tree {}: {}", digest, e.toString());
            }
        }
    }

    /**
     * Takes away the trees of {@code digests} (released by expired previews) that no release, no
     * pending deploy and no unreleased preview release uses, each under its tree's lock.
     */
    public void release(Collection<String> digests) {
        for (String digest : digests) {
            try {
                ReleaseFiles.Removal removal = db.inTransaction(h -> takeAway(h, digest));
                if (removal != null) {
                    removal.finish();
                    LOG.info("released preview tree {}", digest);
                }
            } catch (IOException e) {
                LOG.warn("could not delete released preview tree {}: {}", digest, e.toString());
            }
        }
    }

    /** Marks the releases whose trees go and returns those trees' digests; the caller holds nothing. */
    private List<String> decide(Handle h, String projectId) {
        ProjectStore.lock(h, projectId);
        record Row(String id, String digest, boolean pruned) {
        }
        List<Row> releases = h.createQuery(
                        "SELECT id, content_digest, pruned_at FROM releases WHERE project_id = :p ORDER BY number DESC")
                .bind("p", projectId).map((rs, ctx) -> new Row(rs.getString("id"), rs.getString("content_digest"),
                        rs.getObject("pruned_at") != null))
                .list();
        String current = h.createQuery("SELECT current_release_id FROM projects WHERE id = :p")
                .bind("p", projectId).mapTo(String.class).findOne().orElse(null);
        Set<String> pinned = pinnedReleaseIds.apply(projectId);
        Set<String> keptDigests = new HashSet<>();
        Set<String> candidates = new LinkedHashSet<>();
        boolean newestOtherKept = false;
        for (int i = 0; i < releases.size(); i++) {
            Row r = releases.get(i);
            if (r.pruned()) {
                continue;
            }
            boolean newestOther = !newestOtherKept && !r.id().equals(current);
            newestOtherKept |= newestOther;
            if (i < keep || r.id().equals(current) || newestOther || pinned.contains(r.id())) {
                keptDigests.add(r.digest());
            } else {
                candidates.add(r.digest());
            }
        }
        candidates.removeAll(keptDigests);
        List<String> doomed = new ArrayList<>();
        long now = System.currentTimeMillis();
        for (String digest : candidates) {
            if (inUse(h, digest, projectId)) {
                continue; // another project's release (or a pending upload) has the same tree
            }
            h.createUpdate("UPDATE releases SET pruned_at = :now WHERE project_id = :p AND content_digest = :d "
                            + "AND pruned_at IS NULL")
                    .bind("now", now).bind("p", projectId).bind("d", digest).execute();
            doomed.add(digest);
        }
        return doomed;
    }

    /**
     * Takes a doomed tree out of the release files unless something started using it since it was
     * marked; returns what frees its space (to run after commit), or null when it stays.
     */
    private ReleaseFiles.Removal takeAway(Handle h, String digest) throws IOException {
        ReleaseStore.lockTree(h, db.dialect(), digest);
        if (inUse(h, digest, null)) {
            return null;
        }
        return files.removeTree(digest);
    }

    /**
     * Whether a release not pruned (of any project but {@code exceptProject}, or of any project when
     * it is null) or a pending upload uses the tree. The releases' own digests count: a git or
     * webhook deploy learns its tree only when its build activates it, under the tree's lock.
     */
    private static boolean inUse(Handle h, String digest, String exceptProject) {
        return h.createQuery("""
                        SELECT COUNT(*) FROM (
                          SELECT 1 FROM releases WHERE content_digest = :d AND pruned_at IS NULL
                                                   AND (:p IS NULL OR project_id <> :p)
                          UNION ALL
                          SELECT 1 FROM deploys WHERE content_digest = :d AND status IN ('queued', 'building')
                          UNION ALL
                          SELECT 1 FROM preview_releases WHERE content_digest = :d AND released_at IS NULL
                        ) refs
                        """)
                .bind("d", digest).bind("p", exceptProject).mapTo(Long.class).one() > 0;
    }

    /** Deletes release trees and uploaded archives no release or deploy refers to any more. */
    public void sweepUnreferenced() {
        sweepUnreferenced(GRACE);
    }

    /** As {@link #sweepUnreferenced()}, sparing files younger than {@code grace}. */
    void sweepUnreferenced(Duration grace) {
        Set<String> trees = new HashSet<>(db.withHandle(h -> h.createQuery(
                "SELECT content_digest FROM releases UNION SELECT content_digest FROM deploys "
                        + "WHERE content_digest IS NOT NULL UNION SELECT content_digest FROM preview_releases "
                        + "WHERE released_at IS NULL").mapTo(String.class).list()));
        Set<String> archives = new HashSet<>(db.withHandle(h -> h.createQuery(
                "SELECT artifact FROM deploys WHERE artifact IS NOT NULL").mapTo(String.class).list()));
        files.sweepUnreferenced(Instant.now().minus(grace), trees::contains, archives::contains);
    }
}
