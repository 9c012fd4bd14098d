package dev.karta.api;

import java.time.Duration;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.time.format.DateTimeParseException;
import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Human durations as users type them: {@code 30s}, {@code 10m}, {@code 2h}, {@code 1d}, or
 * ISO-8601; and the points in time the log API takes ({@code since}, {@code until}): an RFC 3339
 * time or such an age before now. Server and CLI parse them alike.
 */
public final class Durations {
    /** The accepted forms of a point in time, for error messages. */
    public static final String TIME_FORMS =
            "use an RFC 3339 time (2026-06-01T00:00:00Z) or an age such as 30s, 10m, 2h or 1d";

    private static final Pattern SHORT = Pattern.compile("(\\d{1,9})(ms|s|m|h|d)");

    private Durations() {
    }

    /** Parses a duration or throws {@link IllegalArgumentException} naming the accepted forms. */
    public static Duration parse(String value) {
        String text = value == null ? "" : value.trim();
        Matcher m = SHORT.matcher(text);
        if (m.matches()) {
            long n = Long.parseLong(m.group(1));
            return switch (m.group(2)) {
                case "ms" -> Duration.ofMillis(n);
                case "s" -> Duration.ofSeconds(n);
                case "m" -> Duration.ofMinutes(n);
                case "h" -> Duration.ofHours(n);
                default -> Duration.ofDays(n);
            };
        }
        try {
            return Duration.parse(text);
        } catch (DateTimeParseException e) {
            throw new IllegalArgumentException("invalid duration '" + value + "': use forms like 30s, 10m, 2h, 1d");
        }
    }

    /**
     * An RFC 3339 time, or an age before {@code now}; null when {@code value} is absent or blank.
     * Throws {@link IllegalArgumentException} for anything else, a negative age included.
     */
    public static Instant timeOrAge(String value, Instant now) {
        if (value == null || value.isBlank()) {
            return null;
        }
        String text = value.trim();
        if (text.length() > 10 && (text.charAt(10) == 'T' || text.charAt(10) == 't')) {
            try {
                return OffsetDateTime.parse(text.toUpperCase(Locale.ROOT)).toInstant();
            } catch (DateTimeParseException e) {
                throw new IllegalArgumentException(TIME_FORMS);
            }
        }
        Duration age = parse(text);
        if (age.isNegative()) {
            throw new IllegalArgumentException(TIME_FORMS);
        }
        return now.minus(age);
    }
}
