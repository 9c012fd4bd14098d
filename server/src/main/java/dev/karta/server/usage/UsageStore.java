package dev.karta.server.usage;

import dev.karta.api.Usage;
import dev.karta.server.build.ReleaseFiles;
import dev.karta.server.store.Database;
import java.time.LocalDate;
import java.time.YearMonth;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import org.jdbi.v3.core.Handle;

/**
 * Counts a project's usage over one month, [first day 00:00 UTC, next month's first day). A
 * deploy counts in the month it was accepted; a build, with its seconds, in the month it
 * finished; releases, sessions and messages (turns, failed ones too) in the month they were
 * created. Stored bytes are measured now: the project's release trees that are still stored
 * (a tree shared with another project counts for both) and its archives, each distinct tree and
 * archive once however many of the project's releases and deploys share it.
 */
public final class UsageStore {
    private static final long DAY_MILLIS = 86_400_000L;

    private final Database db;
    private final ReleaseFiles files;
    /** Trees are immutable and content-addressed: a digest's size never changes. */
    private final Map<String, Long> treeSizes = new ConcurrentHashMap<>();

    public UsageStore(Database db, ReleaseFiles files) {
        this.db = db;
        this.files = files;
    }

    public Usage of(String projectId, YearMonth period) {
        long from = period.atDay(1).atStartOfDay(ZoneOffset.UTC).toInstant().toEpochMilli();
        long to = period.plusMonths(1).atDay(1).atStartOfDay(ZoneOffset.UTC).toInstant().toEpochMilli();
        record Counts(long deploys, long succeeded, long failed, long buildMillis, long releases, long sessions,
                      long messages, List<String> digests, List<String> artifacts) {
        }
        Counts c = db.withHandle(h -> new Counts(
                count(h, "SELECT COUNT(*) FROM deploys WHERE project_id = :p AND created_at >= :from AND created_at < :to",
                        projectId, from, to),
                count(h, "SELECT COUNT(*) FROM deploys WHERE project_id = :p AND status = 'succeeded' "
                        + "AND finished_at >= :from AND finished_at < :to", projectId, from, to),
                count(h, "SELECT COUNT(*) FROM deploys WHERE project_id = :p AND status = 'failed' "
                        + "AND finished_at >= :from AND finished_at < :to", projectId, from, to),
                count(h, "SELECT COALESCE(SUM(finished_at - started_at), 0) FROM deploys WHERE project_id = :p "
                        + "AND status IN ('succeeded', 'failed') AND started_at IS NOT NULL "
                        + "AND finished_at >= :from AND finished_at < :to", projectId, from, to),
                count(h, "SELECT COUNT(*) FROM releases WHERE project_id = :p AND created_at >= :from AND created_at < :to",
                        projectId, from, to),
                count(h, "SELECT COUNT(*) FROM sessions WHERE project_id = :p AND created_at >= :from AND created_at < :to",
                        projectId, from, to),
                count(h, "SELECT COUNT(*) FROM session_turns WHERE project_id = :p "
                        + "AND started_at >= :from AND started_at < :to", projectId, from, to),
                h.createQuery("SELECT DISTINCT content_digest FROM releases WHERE project_id = :p")
                        .bind("p", projectId).mapTo(String.class).list(),
                h.createQuery("SELECT DISTINCT artifact FROM deploys WHERE project_id = :p AND artifact IS NOT NULL")
                        .bind("p", projectId).mapTo(String.class).list()));
        long stored = 0;
        for (String digest : c.digests()) {
            stored += treeSize(digest);
        }
        for (String artifact : c.artifacts()) {
            stored += files.archiveBytes(artifact);
        }
        return new Usage(period.toString(), c.deploys(), c.succeeded(), c.failed(), c.buildMillis() / 1000.0,
                c.releases(), c.sessions(), c.messages(), stored);
    }

    /** One day of a month: the deploys accepted and the sessions started on it (UTC). */
    public record Day(LocalDate date, long deploys, long sessions) {
    }

    /** Every day of {@code period}, first to last, with its deploys and sessions. */
    public List<Day> daily(String projectId, YearMonth period) {
        long from = period.atDay(1).atStartOfDay(ZoneOffset.UTC).toInstant().toEpochMilli();
        long[] deploys = new long[period.lengthOfMonth()];
        long[] sessions = new long[period.lengthOfMonth()];
        db.withHandle(h -> {
            perDay(h, "SELECT created_at FROM deploys WHERE project_id = :p AND created_at >= :from AND created_at < :to",
                    projectId, from, deploys);
            perDay(h, "SELECT created_at FROM sessions WHERE project_id = :p AND created_at >= :from AND created_at < :to",
                    projectId, from, sessions);
            return null;
        });
        List<Day> days = new ArrayList<>();
        for (int i = 0; i < deploys.length; i++) {
            days.add(new Day(period.atDay(i + 1), deploys[i], sessions[i]));
        }
        return days;
    }

    private static void perDay(Handle h, String sql, String projectId, long from, long[] counts) {
        h.createQuery(sql).bind("p", projectId).bind("from", from).bind("to", from + counts.length * DAY_MILLIS)
                .mapTo(Long.class)
                .forEach(at -> counts[(int) ((at - from) / DAY_MILLIS)]++);
    }

    private static long count(Handle h, String sql, String projectId, long from, long to) {
        return h.createQuery(sql).bind("p", projectId).bind("from", from).bind("to", to).mapTo(Long.class).one();
    }

    private long treeSize(String digest) {
        if (!files.hasTree(digest)) {
            treeSizes.remove(digest);
            return 0;
        }
        return treeSizes.computeIfAbsent(digest, files::treeBytes);
    }
}
