package dev.karta.api;

import java.util.List;

/**
 * What changes from release {@code from} to release {@code to} ({@code from} is null when the
 * project has no active release to compare with). {@code harness} and {@code buildKind} are null
 * when they are the same in both. Config values are never shown, only names.
 */
public record ReleaseDiff(
        String project,
        String from,
        String to,
        Commits commits,
        Files files,
        Change harness,
        Change buildKind,
        ConfigNames config) {

    /**
     * The commit range: {@code added} are the commits of {@code to} that {@code from} lacks, newest
     * first, {@code removed} the other way round; the counts are the whole ranges, the lists are
     * capped. {@code available} is false (with {@code note} saying why) when either commit is not
     * in the project's repository, for instance an upload's.
     */
    public record Commits(boolean available, String note, List<Commit> added, List<Commit> removed,
                          int addedCount, int removedCount) {
        public Commits {
            added = added == null ? List.of() : List.copyOf(added);
            removed = removed == null ? List.of() : List.copyOf(removed);
        }
    }

    public record Commit(String sha, String shortSha, String subject) {
    }

    /**
     * Files added, removed and changed (content or executable bit), by path, each list sorted; the
     * lists hold at most a capped number of entries together and {@code unlisted} counts the rest.
     * {@code available} is false (with {@code note}) when a release's files are no longer stored.
     */
    public record Files(boolean available, String note, List<FileChange> added, List<FileChange> removed,
                        List<FileChange> changed, int addedCount, int removedCount, int changedCount,
                        int unlisted) {
        public Files {
            added = added == null ? List.of() : List.copyOf(added);
            removed = removed == null ? List.of() : List.copyOf(removed);
            changed = changed == null ? List.of() : List.copyOf(changed);
        }
    }

    /** A file: {@code sizeBefore} in {@code from} (null when added), {@code size} in {@code to} (null when removed). */
    public record FileChange(String path, Long sizeBefore, Long size) {
    }

    public record Change(String from, String to) {
    }

    public record ConfigNames(List<String> added, List<String> changed, List<String> removed) {
        public ConfigNames {
            added = added == null ? List.of() : List.copyOf(added);
            changed = changed == null ? List.of() : List.copyOf(changed);
            removed = removed == null ? List.of() : List.copyOf(removed);
        }
    }
}
