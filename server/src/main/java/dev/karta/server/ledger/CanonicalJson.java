package dev.karta.server.ledger;

import java.nio.charset.StandardCharsets;
import java.util.Map;
import java.util.TreeMap;

/**
 * The ledger's canonical JSON of a flat object whose values are strings, integers or nulls: byte
 * for byte what Python writes with {@code json.dumps(obj, sort_keys=True, separators=(",", ":"),
 * ensure_ascii=False).encode("utf-8")}, so that an export can be verified offline by a few lines of
 * Python. Keys sorted by code point; no whitespace; in strings only {@code "}, {@code \} and the
 * control characters U+0000..U+001F are escaped (backslash-b, -f, -n, -r, -t, the rest as a
 * backslash, {@code u00} and two lower-case hex digits); everything else, non-ASCII included, is
 * written as UTF-8.
 */
public final class CanonicalJson {
    private CanonicalJson() {
    }

    /** The canonical text of {@code object}; throws for a value that is not a string, integer or null. */
    public static String write(Map<String, ?> object) {
        TreeMap<String, Object> sorted = new TreeMap<>(CanonicalJson::compareCodePoints);
        sorted.putAll(object);
        StringBuilder out = new StringBuilder(256).append('{');
        boolean first = true;
        for (Map.Entry<String, Object> field : sorted.entrySet()) {
            if (!first) {
                out.append(',');
            }
            first = false;
            string(out, field.getKey());
            out.append(':');
            value(out, field.getKey(), field.getValue());
        }
        return out.append('}').toString();
    }

    /** {@link #write} as UTF-8: the bytes the ledger hashes. */
    public static byte[] bytes(Map<String, ?> object) {
        return write(object).getBytes(StandardCharsets.UTF_8);
    }

    private static void value(StringBuilder out, String key, Object value) {
        if (value == null) {
            out.append("null");
        } else if (value instanceof String s) {
            string(out, s);
        } else if (value instanceof Long || value instanceof Integer) {
            out.append(value);
        } else {
            throw new IllegalArgumentException("ledger field '" + key + "' is a " + value.getClass().getSimpleName()
                    + ": only strings, integers and null are canonical");
        }
    }

    private static void string(StringBuilder out, String s) {
        out.append('"');
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            switch (c) {
                case '"' -> out.append("\\\"");
                case '\\' -> out.append("\\\\");
                case '\b' -> out.append("\\b");
                case '\f' -> out.append("\\f");
                case '\n' -> out.append("\\n");
                case '\r' -> out.append("\\r");
                case '\t' -> out.append("\\t");
                default -> {
                    if (c < 0x20) {
                        out.append("\\u00").append(Character.forDigit(c >> 4, 16)).append(Character.forDigit(c & 0xf, 16));
                    } else {
                        out.append(c);
                    }
                }
            }
        }
        out.append('"');
    }

    /** Python's order of {@code str}: by code point (Java's {@code compareTo} is by UTF-16 unit). */
    private static int compareCodePoints(String a, String b) {
        int i = 0;
        int j = 0;
        while (i < a.length() && j < b.length()) {
            int ca = a.codePointAt(i);
            int cb = b.codePointAt(j);
            if (ca != cb) {
                return Integer.compare(ca, cb);
            }
            i += Character.charCount(ca);
            j += Character.charCount(cb);
        }
        return Integer.compare(a.length() - i, b.length() - j);
    }
}
