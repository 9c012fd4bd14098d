package dev.karta.server.releases;

import dev.karta.api.ReleaseDiff;
import dev.karta.server.build.ReleaseFiles;
import dev.karta.server.build.Tree;
import dev.karta.server.projects.ProjectRecord;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.SortedMap;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.function.Function;

/**
 * What changes between two releases of a project: the commit range (from the project's repository,
 * through {@link CommitHistory}), the files (both trees checked out through {@link ReleaseFiles}
 * and compared entry by entry), harness and build kind, and the names of config vars (through a
 * function the config feature supplies; values are never read out). Reads only; changes nothing.
 */
public final class ReleaseDiffs {
    /** Files listed per kind (added, removed, changed); the rest are counted in {@code unlisted}. */
    static final int MAX_LISTED_FILES = 200;
    /** Commits listed each way. */
    static final int MAX_LISTED_COMMITS = 50;
    /** Commits counted each way: a range over a long history stops there. */
    static final int MAX_COUNTED_COMMITS = 10_000;

    /** The commit range between two commits of a project's repository; see {@code GitRepos.commitsBetween}. */
    @FunctionalInterface
    public interface CommitHistory {
        ReleaseDiff.Commits between(ProjectRecord project, String fromSha, String toSha, int listed, int counted);
    }

    private final ReleaseFiles files;
    private final CommitHistory commits;
    private final Function<ReleaseRecord, Map<String, String>> configFingerprints;

    /**
     * {@code configFingerprints} maps a release to its config: each var's name to a string that
     * differs exactly when the value differs (a digest; it is compared, never shown). An empty
     * map is a release without config.
     */
    public ReleaseDiffs(ReleaseFiles files, CommitHistory commits,
                        Function<ReleaseRecord, Map<String, String>> configFingerprints) {
        this.files = files;
        this.commits = commits;
        this.configFingerprints = configFingerprints;
    }

    /** The diff from {@code from} (null: no release, everything in {@code to} is added) to {@code to}. */
    public ReleaseDiff diff(ProjectRecord project, ReleaseRecord from, ReleaseRecord to) {
        return new ReleaseDiff(project.name(), from == null ? null : from.version(), to.version(),
                commits(project, from, to), files(from, to),
                from == null || Objects.equals(from.harness(), to.harness()) ? null
                        : new ReleaseDiff.Change(from.harness(), to.harness()),
                from == null || Objects.equals(from.buildKind(), to.buildKind()) ? null
                        : new ReleaseDiff.Change(from.buildKind(), to.buildKind()),
                config(from, to));
    }

    private ReleaseDiff.Commits commits(ProjectRecord project, ReleaseRecord from, ReleaseRecord to) {
        if (from == null) {
            return new ReleaseDiff.Commits(false, "no release to compare with", List.of(), List.of(), 0, 0);
        }
        if (from.commitSha().equals(to.commitSha())) {
            return new ReleaseDiff.Commits(true, null, List.of(), List.of(), 0, 0);
        }
        return commits.between(project, from.commitSha(), to.commitSha(), MAX_LISTED_COMMITS, MAX_COUNTED_COMMITS);
    }

    private ReleaseDiff.Files files(ReleaseRecord from, ReleaseRecord to) {
        try {
            Optional<Tree> after = files.checkOut(to.contentDigest());
            if (after.isEmpty()) {
                return unavailableFiles(to);
            }
            SortedMap<String, Tree.Entry> afterEntries = after.get().entries();
            if (from == null) {
                return compare(null, new TreeMap<>(), after.get(), afterEntries, false);
            }
            if (from.contentDigest().equals(to.contentDigest())) {
                return new ReleaseDiff.Files(true, null, List.of(), List.of(), List.of(), 0, 0, 0, 0);
            }
            Optional<Tree> before = files.checkOut(from.contentDigest());
            if (before.isEmpty()) {
                return unavailableFiles(from);
            }
            return compare(before.get(), before.get().entries(), after.get(), afterEntries, true);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot compare the trees of " + (from == null ? "" : from.version() + " and ")
                    + to.version(), e);
        }
    }

    private static ReleaseDiff.Files unavailableFiles(ReleaseRecord release) {
        return new ReleaseDiff.Files(false, "the files of " + release.version() + " are no longer stored"
                + (release.prunedAt() == null ? "" : " (pruned by --keep-releases)"),
                List.of(), List.of(), List.of(), 0, 0, 0, 0);
    }

    private static ReleaseDiff.Files compare(Tree before, SortedMap<String, Tree.Entry> beforeEntries, Tree after,
                                             SortedMap<String, Tree.Entry> afterEntries, boolean compareContent)
            throws IOException {
        List<ReleaseDiff.FileChange> added = new ArrayList<>();
        List<ReleaseDiff.FileChange> removed = new ArrayList<>();
        List<ReleaseDiff.FileChange> changed = new ArrayList<>();
        int addedCount = 0;
        int removedCount = 0;
        int changedCount = 0;
        TreeSet<String> paths = new TreeSet<>(beforeEntries.keySet());
        paths.addAll(afterEntries.keySet());
        for (String path : paths) {
            Tree.Entry was = beforeEntries.get(path);
            Tree.Entry is = afterEntries.get(path);
            if (was == null) {
                addedCount++;
                if (added.size() < MAX_LISTED_FILES) {
                    added.add(new ReleaseDiff.FileChange(path, null, is.size()));
                }
            } else if (is == null) {
                removedCount++;
                if (removed.size() < MAX_LISTED_FILES) {
                    removed.add(new ReleaseDiff.FileChange(path, was.size(), null));
                }
            } else if (!was.equals(is) || (compareContent && !before.sameContent(after, path))) {
                changedCount++;
                if (changed.size() < MAX_LISTED_FILES) {
                    changed.add(new ReleaseDiff.FileChange(path, was.size(), is.size()));
                }
            }
        }
        int unlisted = addedCount - added.size() + removedCount - removed.size() + changedCount - changed.size();
        return new ReleaseDiff.Files(true, null, added, removed, changed, addedCount, removedCount, changedCount,
                unlisted);
    }

    private ReleaseDiff.ConfigNames config(ReleaseRecord from, ReleaseRecord to) {
        Map<String, String> before = from == null ? Map.of() : configFingerprints.apply(from);
        Map<String, String> after = configFingerprints.apply(to);
        List<String> added = new ArrayList<>();
        List<String> changed = new ArrayList<>();
        List<String> removed = new ArrayList<>();
        TreeSet<String> names = new TreeSet<>(before.keySet());
        names.addAll(after.keySet());
        for (String name : names) {
            if (!before.containsKey(name)) {
                added.add(name);
            } else if (!after.containsKey(name)) {
                removed.add(name);
            } else if (!before.get(name).equals(after.get(name))) {
                changed.add(name);
            }
        }
        return new ReleaseDiff.ConfigNames(added, changed, removed);
    }
}
