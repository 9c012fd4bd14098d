package dev.karta.cli;

import dev.karta.api.LogEntry;
import dev.karta.api.Printable;
import java.io.PrintStream;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.List;

/**
 * Log entries for people, one per line: {@code time  source  deploy-or-release  message}, the
 * columns aligned. Times are UTC with milliseconds, in the RFC 3339 form {@code --since} takes.
 * The third column is the release an entry names, else its deploy, else {@value Output#NONE}.
 * A message's later lines (older servers stored line breaks) are indented to the message column;
 * terminal control sequences and control characters in messages are removed
 * ({@link Printable#line}), so a build's output cannot drive the terminal; Karta's own colours
 * are added after that. Colour only when asked.
 */
final class LogLines {
    private static final DateTimeFormatter TIME =
            DateTimeFormatter.ofPattern("uuuu-MM-dd'T'HH:mm:ss.SSS'Z'").withZone(ZoneOffset.UTC);
    /** The longest source names: release, session. */
    private static final int SOURCE_WIDTH = 7;
    /** A deploy id: {@code dep_} and 26 characters. */
    private static final int DEPLOY_ID_WIDTH = 30;
    private static final String RESET = "\u001b[0m";
    private static final String DIM = "\u001b[2m";

    private final PrintStream out;
    private final boolean colour;
    private int sourceWidth;
    private int refWidth;

    private LogLines(PrintStream out, boolean colour, int sourceWidth, int refWidth) {
        this.out = out;
        this.colour = colour;
        this.sourceWidth = sourceWidth;
        this.refWidth = refWidth;
    }

    /** For a listing: each column as wide as its widest cell among {@code entries}. */
    static LogLines fitting(PrintStream out, boolean colour, List<LogEntry> entries) {
        int source = 0;
        int ref = 0;
        for (LogEntry entry : entries) {
            source = Math.max(source, Output.or(entry.source()).length());
            ref = Math.max(ref, ref(entry).length());
        }
        return new LogLines(out, colour, source, ref);
    }

    /** For a tail: wide enough for every source and a deploy id; a wider cell widens later lines. */
    static LogLines following(PrintStream out, boolean colour) {
        return new LogLines(out, colour, SOURCE_WIDTH, DEPLOY_ID_WIDTH);
    }

    void print(LogEntry entry) {
        String time = entry.time() == null ? Output.NONE : TIME.format(entry.time());
        String source = Output.or(entry.source());
        String ref = ref(entry);
        sourceWidth = Math.max(sourceWidth, source.length());
        refWidth = Math.max(refWidth, ref.length());
        StringBuilder line = new StringBuilder(160);
        line.append(paint(DIM, time)).append("  ")
                .append(paint(colourOf(source), source)).append(" ".repeat(sourceWidth - source.length() + 2))
                .append(ref).append(" ".repeat(refWidth - ref.length() + 2));
        String indent = " ".repeat(time.length() + 2 + sourceWidth + 2 + refWidth + 2);
        String[] lines = (entry.message() == null ? "" : entry.message()).split("\r?\n", -1);
        for (int i = 0; i < lines.length; i++) {
            if (i > 0) {
                line.append('\n').append(indent);
            }
            line.append(Printable.line(lines[i]));
        }
        out.println(line.toString().stripTrailing());
    }

    static String ref(LogEntry entry) {
        if (entry.release() != null && !entry.release().isBlank()) {
            return entry.release();
        }
        return Output.or(entry.deployId());
    }

    private static String colourOf(String source) {
        return switch (source) {
            case "build" -> "\u001b[36m";
            case "release" -> "\u001b[32m";
            case "session" -> "\u001b[35m";
            case "system" -> "\u001b[33m";
            default -> null;
        };
    }

    private String paint(String code, String text) {
        return colour && code != null ? code + text + RESET : text;
    }
}
