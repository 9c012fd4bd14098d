package dev.karta.server.dashboard;

import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.time.temporal.ChronoUnit;
import java.util.Locale;

/** How the dashboard writes times, durations, sizes and commits. */
public final class Format {
    private static final DateTimeFormatter UTC = DateTimeFormatter.ofPattern("yyyy-MM-dd HH:mm:ss 'UTC'")
            .withZone(ZoneOffset.UTC);

    private Format() {
    }

    /** An absolute time, for a tooltip or a {@code <time datetime>}: empty for none. */
    public static String iso(Instant at) {
        return at == null ? "" : at.truncatedTo(ChronoUnit.SECONDS).toString();
    }

    public static String utc(Instant at) {
        return at == null ? "" : UTC.format(at);
    }

    /** The time from {@code from} to {@code to} (null: still running, counted to now): {@code 85 ms}, {@code 4.2 s}. */
    public static String duration(Instant from, Instant to) {
        if (from == null) {
            return "—";
        }
        long millis = Math.max(0, Duration.between(from, to == null ? Instant.now() : to).toMillis());
        if (millis < 1000) {
            return millis + " ms";
        }
        if (millis < 60_000) {
            return String.format(Locale.ROOT, "%.1f s", millis / 1000.0);
        }
        return millis / 60_000 + " min " + (millis / 1000) % 60 + " s";
    }

    /** Seconds with one decimal: {@code 4.2 s}. */
    public static String seconds(double seconds) {
        return String.format(Locale.ROOT, "%.1f s", seconds);
    }

    public static String bytes(long bytes) {
        if (bytes < 1024) {
            return bytes + " B";
        }
        String[] units = {"KiB", "MiB", "GiB", "TiB"};
        double value = bytes;
        int unit = -1;
        while (value >= 1024 && unit < units.length - 1) {
            value /= 1024;
            unit++;
        }
        return String.format(Locale.ROOT, "%.1f %s", value, units[unit]);
    }

    /** A commit's first 7 characters, or a dash. */
    public static String sha(String sha) {
        return sha == null || sha.isEmpty() ? "—" : sha.substring(0, Math.min(7, sha.length()));
    }
}
