package dev.karta.api;

/**
 * Text from someone else (a build's output, a karta.toml, a key or session name) made safe for
 * a terminal: every C0 control character except tab, DEL and every C1 control character is
 * written as a visible escape, so the text cannot move the cursor, clear the screen, set the
 * window title or ring the bell. ESC becomes {@code \e}, CR {@code \r}, LF {@code \n}, other C0
 * and DEL as {@code \x} and two hex digits ({@code \x07}), C1 as a backslash, {@code u} and four
 * hex digits (CSI is written {@code \}{@code u009b}). Backslashes are left alone, so escaping
 * escaped text changes nothing: the server escapes what it stores and the CLI escapes what it
 * prints, with the same function.
 */
public final class Printable {

    private Printable() {
    }

    /** The text as one line: CR and LF are escaped too, so it cannot fake a line of its own. */
    public static String line(String text) {
        return escape(text, false);
    }

    /**
     * The text with its line breaks kept (CRLF becomes LF) and every other control character
     * escaped, for multi-line text meant to be read as such.
     */
    public static String lines(String text) {
        return escape(text, true);
    }

    /** Whether the text holds a character {@link #line} would escape: for names that must be plain. */
    public static boolean hasControlCharacters(String text) {
        return text != null && text.chars().anyMatch(c -> isControl((char) c));
    }

    private static String escape(String text, boolean keepNewlines) {
        if (text == null) {
            return null;
        }
        String source = keepNewlines && text.indexOf('\r') >= 0 ? text.replace("\r\n", "\n") : text;
        StringBuilder out = null;
        for (int i = 0; i < source.length(); i++) {
            char c = source.charAt(i);
            boolean kept = !isControl(c) || keepNewlines && c == '\n';
            if (!kept && out == null) {
                out = new StringBuilder(source.length() + 16).append(source, 0, i);
            }
            if (out == null) {
                continue;
            }
            if (kept) {
                out.append(c);
            } else {
                switch (c) {
                    case 0x1b -> out.append("\\e");
                    case '\n' -> out.append("\\n");
                    case '\r' -> out.append("\\r");
                    default -> out.append(c < 0x80 ? String.format("\\x%02x", (int) c)
                            : String.format("\\u%04x", (int) c));
                }
            }
        }
        return out == null ? source : out.toString();
    }

    /** C0 other than tab, DEL, C1. */
    private static boolean isControl(char c) {
        return c < 0x20 && c != '\t' || c >= 0x7f && c <= 0x9f;
    }
}
