package dev.karta.cli;

import dev.karta.api.Commits;
import dev.karta.api.Printable;
import java.io.PrintStream;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * What commands print on standard output: aligned tables and key/value blocks for people, or
 * the server's JSON, pretty printed, with {@code --json}. Messages and progress go to standard
 * error so that standard output stays parseable. Table cells and field values come from the
 * server and are shown as one line each with terminal control sequences and control characters
 * removed ({@link Printable#line}); a line keeps its line breaks but nothing else that drives a
 * terminal. With {@link Cli#say} (messages) and the error line of {@link Main}, these are where
 * the CLI prints what came from the server.
 */
final class Output {
    static final String NONE = "-";

    private final PrintStream out;
    private final boolean jsonMode;
    private final Instant now;

    Output(PrintStream out, boolean jsonMode, Instant now) {
        this.out = out;
        this.jsonMode = jsonMode;
        this.now = now;
    }

    boolean jsonMode() {
        return jsonMode;
    }

    void line(String text) {
        out.println(Printable.lines(text));
    }

    /**
     * {@code value} (an answer's {@link ApiClient.Reply#body}, or a record) pretty printed; its
     * strings' control characters are escaped ({@link JsonText}), so it cannot drive a terminal.
     */
    void json(Object value) {
        out.println(JsonText.pretty(WireRecords.toTree(value)));
    }

    /**
     * A JSON text received as is (an SSE event's data) made as safe as {@link #json}: every control
     * character is written as a JSON {@code \}{@code uXXXX} escape. Valid JSON holds raw controls
     * only inside strings (DEL and C1), where the escape reads back as the same character; a server
     * sending raw C0 controls sent invalid JSON, which stays invalid but cannot drive a terminal.
     */
    static String jsonLine(String json) {
        if (!Printable.hasControlCharacters(json)) {
            return json;
        }
        StringBuilder out = new StringBuilder(json.length() + 16);
        for (int i = 0; i < json.length(); i++) {
            char c = json.charAt(i);
            if (c < 0x20 || c >= 0x7f && c <= 0x9f) {
                out.append(String.format("\\u%04x", (int) c));
            } else {
                out.append(c);
            }
        }
        return out.toString();
    }

    /** Columns separated by two spaces, each as wide as its widest cell; the last is not padded. */
    void table(List<String> headers, List<List<String>> rows) {
        int[] widths = new int[headers.size()];
        List<List<String>> all = new ArrayList<>();
        all.add(headers);
        all.addAll(rows);
        for (List<String> row : all) {
            for (int i = 0; i < widths.length; i++) {
                widths[i] = Math.max(widths[i], cell(row, i).length());
            }
        }
        for (List<String> row : all) {
            StringBuilder line = new StringBuilder();
            for (int i = 0; i < widths.length; i++) {
                String value = cell(row, i);
                line.append(value);
                if (i < widths.length - 1) {
                    line.append(" ".repeat(widths[i] - value.length() + 2));
                }
            }
            out.println(line.toString().stripTrailing());
        }
    }

    /** Labelled lines, labels aligned: the shape of {@code heroku info}. */
    void fields(List<List<String>> labelled) {
        int width = labelled.stream().mapToInt(pair -> pair.get(0).length()).max().orElse(0);
        for (List<String> pair : labelled) {
            out.println(pair.get(0) + ":" + " ".repeat(width - pair.get(0).length() + 2) + Printable.line(or(pair.get(1))));
        }
    }

    /** "just now", "42s ago", "3m ago", "2h ago", "5d ago"; {@value #NONE} when unknown. */
    String age(Instant then) {
        return age(then, now);
    }

    static String age(Instant then, Instant now) {
        if (then == null) {
            return NONE;
        }
        Duration ago = Duration.between(then, now);
        if (ago.isNegative() || ago.getSeconds() < 1) {
            return "just now";
        }
        if (ago.toMinutes() < 1) {
            return ago.getSeconds() + "s ago";
        }
        if (ago.toHours() < 1) {
            return ago.toMinutes() + "m ago";
        }
        if (ago.toDays() < 1) {
            return ago.toHours() + "h ago";
        }
        return ago.toDays() + "d ago";
    }

    /** The time this output counts ages from. */
    Instant now() {
        return now;
    }

    /** "in 89 days", "in 3 hours", "3 minutes ago", "just now": a time near now, in words. */
    String relative(Instant then) {
        return relative(then, now);
    }

    static String relative(Instant then, Instant now) {
        if (then == null) {
            return NONE;
        }
        Duration between = Duration.between(now, then);
        boolean future = !between.isNegative();
        Duration span = between.abs();
        if (span.getSeconds() < 1) {
            return "just now";
        }
        String amount;
        if (span.toMinutes() < 1) {
            amount = plural(span.getSeconds(), "second");
        } else if (span.toHours() < 1) {
            amount = plural(span.toMinutes(), "minute");
        } else if (span.toDays() < 1) {
            amount = plural(span.toHours(), "hour");
        } else {
            amount = plural(span.toDays(), "day");
        }
        return future ? "in " + amount : amount + " ago";
    }

    private static String plural(long n, String unit) {
        return n + " " + unit + (n == 1 ? "" : "s");
    }

    /** A commit abbreviated as git shows it, or {@link #NONE}. */
    static String shortSha(String sha) {
        return sha == null || sha.isBlank() ? NONE : Commits.shortSha(sha);
    }

    static String or(String value) {
        return value == null || value.isBlank() ? NONE : value;
    }

    /** "812 B", "12.3 KB", "4.0 MB": decimal units, one decimal. */
    static String bytes(long count) {
        if (count < 1000) {
            return count + " B";
        }
        double value = count;
        String[] units = {"KB", "MB", "GB", "TB"};
        int unit = -1;
        while (value >= 1000 && unit < units.length - 1) {
            value /= 1000;
            unit++;
        }
        return String.format(Locale.ROOT, "%.1f %s", value, units[unit]);
    }

    private static String cell(List<String> row, int i) {
        return i < row.size() && row.get(i) != null ? Printable.line(row.get(i)) : "";
    }
}
