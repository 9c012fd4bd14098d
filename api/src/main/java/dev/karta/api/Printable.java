package dev.karta.api;

/**
 * Text from someone else (a build's output, a karta.toml, a commit message, a session's text)
 * made safe for a terminal: terminal control sequences are removed whole, and every other control
 * character is dropped, so the text cannot move the cursor, clear the screen, set the window
 * title, write the clipboard (OSC 52), ring the bell or print a line of its own.
 *
 * <p>Removed whole (ECMA-48): CSI sequences ({@code ESC [} or C1 {@code 0x9b}, parameters,
 * intermediates, final byte), so a build tool's colours leave their text behind; control strings
 * (OSC {@code ESC ]}, DCS {@code ESC P}, SOS {@code ESC X}, PM {@code ESC ^}, APC {@code ESC _} and
 * their C1 forms) up to BEL or ST, or to the end of the text when unterminated; other escape
 * sequences ({@code ESC} with intermediates and a final byte, such as {@code ESC ( B}). Then every
 * remaining C0 control except tab, DEL and every C1 control is dropped; line breaks are kept by
 * {@link #lines} and become a space in {@link #line}, a lone CR (a progress bar's redraw) too.
 * The result holds no ESC and no C1 byte, so no sequence can re-form: cleaning clean text changes
 * nothing, and the server cleans what it stores while the CLI cleans what it prints, with the same
 * function. Karta's own colours are added by the CLI after cleaning, and only on a terminal.
 */
public final class Printable {
    private static final char ESC = 0x1b;
    private static final char BEL = 0x07;
    private static final char CSI = 0x9b;
    private static final char ST = 0x9c;

    private Printable() {
    }

    /** The text as one line: CR and LF become spaces, so it cannot fake a line of its own. */
    public static String line(String text) {
        return clean(text, false);
    }

    /**
     * The text with its line breaks kept (CRLF becomes LF) and every control sequence and other
     * control character removed, for multi-line text meant to be read as such.
     */
    public static String lines(String text) {
        return clean(text, true);
    }

    /** Whether the text holds a control character {@link #line} would remove: for names that must be plain. */
    public static boolean hasControlCharacters(String text) {
        return text != null && text.chars().anyMatch(c -> isControl((char) c));
    }

    private static String clean(String text, boolean keepNewlines) {
        if (text == null) {
            return null;
        }
        int first = 0;
        while (first < text.length() && !isControl(text.charAt(first))) {
            first++;
        }
        if (first == text.length()) {
            return text;
        }
        StringBuilder out = new StringBuilder(text.length()).append(text, 0, first);
        int n = text.length();
        int i = first;
        while (i < n) {
            char c = text.charAt(i);
            if (!isControl(c)) {
                out.append(c);
                i++;
            } else if (c == '\r' || c == '\n') {
                boolean crlf = c == '\r' && i + 1 < n && text.charAt(i + 1) == '\n';
                boolean lineBreak = c == '\n' || crlf;
                out.append(keepNewlines && lineBreak ? '\n' : ' ');
                i += crlf ? 2 : 1;
            } else if (c == ESC) {
                i = skipEscape(text, i + 1);
            } else if (c == CSI) {
                i = skipCsi(text, i + 1);
            } else if (isStringIntroducer(c)) {
                i = skipString(text, i + 1);
            } else {
                i++; // any other C0 (not tab), DEL or C1 control: dropped
            }
        }
        return out.toString();
    }

    /** After ESC: the index past the sequence it starts. */
    private static int skipEscape(String text, int i) {
        if (i >= text.length()) {
            return i;
        }
        char c = text.charAt(i);
        if (c == '[') {
            return skipCsi(text, i + 1);
        }
        if (c == ']' || c == 'P' || c == 'X' || c == '^' || c == '_') {
            return skipString(text, i + 1);
        }
        // nF: intermediates 0x20-0x2f then a final byte 0x30-0x7e; Fp/Fe/Fs: one byte 0x30-0x7e.
        while (i < text.length() && text.charAt(i) >= 0x20 && text.charAt(i) <= 0x2f) {
            i++;
        }
        if (i < text.length() && text.charAt(i) >= 0x30 && text.charAt(i) <= 0x7e) {
            i++;
        }
        return i;
    }

    /** After a CSI: parameter bytes 0x30-0x3f, intermediates 0x20-0x2f, one final byte 0x40-0x7e. */
    private static int skipCsi(String text, int i) {
        while (i < text.length() && text.charAt(i) >= 0x30 && text.charAt(i) <= 0x3f) {
            i++;
        }
        while (i < text.length() && text.charAt(i) >= 0x20 && text.charAt(i) <= 0x2f) {
            i++;
        }
        if (i < text.length() && text.charAt(i) >= 0x40 && text.charAt(i) <= 0x7e) {
            i++;
        }
        return i;
    }

    /** After OSC, DCS, SOS, PM or APC: past BEL, {@code ESC \} or C1 ST, or to the end of the text. */
    private static int skipString(String text, int i) {
        while (i < text.length()) {
            char c = text.charAt(i);
            if (c == BEL || c == ST) {
                return i + 1;
            }
            if (c == ESC) {
                // ESC \ is ST; any other ESC ends the string and starts a sequence of its own.
                return i + 1 < text.length() && text.charAt(i + 1) == '\\' ? i + 2 : i;
            }
            i++;
        }
        return i;
    }

    /** C1 DCS, SOS, OSC, PM, APC. */
    private static boolean isStringIntroducer(char c) {
        return c == 0x90 || c == 0x98 || c == 0x9d || c == 0x9e || c == 0x9f;
    }

    /** C0 other than tab, DEL, C1. */
    private static boolean isControl(char c) {
        return c < 0x20 && c != '\t' || c >= 0x7f && c <= 0x9f;
    }
}
