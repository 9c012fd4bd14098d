package dev.karta.cli;

import java.math.BigDecimal;
import java.math.BigInteger;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * JSON text (RFC 8259) to and from plain trees: {@code Map<String, Object>} (in the text's order),
 * {@code List<Object>}, {@code String}, {@code Long} (or {@code BigInteger} beyond it),
 * {@code BigDecimal} (a number with a fraction or an exponent, exactly as written),
 * {@code Boolean} and {@code null}. The CLI's own reader and writer, because a JSON mapping
 * library cost a one-line command a third of its start-up (issue 16); {@link WireRecords} maps the
 * trees to the wire records.
 *
 * <p>What it writes cannot drive a terminal: every control character, C0, DEL and C1 alike
 * ({@code \}{@code u009b} is a CSI to some terminals), and every lone surrogate is written as a
 * {@code \}{@code uXXXX} escape, which reads back as the same string.
 */
final class JsonText {
    /** Deeper nesting than this is refused rather than risking the reader's stack (Jackson's default too). */
    static final int MAX_DEPTH = 1000;

    /**
     * A longer number is refused (Jackson's default too): converting n digits costs time in n², so
     * a hostile answer of a million digits would hold the CLI for a minute.
     */
    static final int MAX_NUMBER_LENGTH = 1000;

    /** Text that is not JSON; the message names what was wrong and where. */
    static final class MalformedJson extends IllegalArgumentException {
        MalformedJson(String message) {
            super(message);
        }
    }

    private final String text;
    private int at;

    private JsonText(String text) {
        this.text = text;
    }

    static Object parse(byte[] utf8) {
        return parse(new String(utf8, StandardCharsets.UTF_8));
    }

    static Object parse(String text) {
        JsonText reader = new JsonText(text);
        reader.skipSpace();
        Object value = reader.value(0);
        reader.skipSpace();
        if (reader.at < text.length()) {
            throw reader.malformed("unexpected text after the value");
        }
        return value;
    }

    /** The tree on one line, as the server sends it. */
    static String compact(Object tree) {
        StringBuilder out = new StringBuilder();
        write(tree, out, -1);
        return out.toString();
    }

    /** The tree indented by two spaces, one member or element per line, as {@code jq} prints it. */
    static String pretty(Object tree) {
        StringBuilder out = new StringBuilder();
        write(tree, out, 0);
        return out.toString();
    }

    private Object value(int depth) {
        if (at >= text.length()) {
            throw malformed("unexpected end of input");
        }
        char c = text.charAt(at);
        return switch (c) {
            case '{' -> object(depth + 1);
            case '[' -> array(depth + 1);
            case '"' -> string();
            case 't' -> literal("true", Boolean.TRUE);
            case 'f' -> literal("false", Boolean.FALSE);
            case 'n' -> literal("null", null);
            default -> {
                if (c == '-' || c >= '0' && c <= '9') {
                    yield number();
                }
                throw malformed("unexpected character " + describe(c));
            }
        };
    }

    private Map<String, Object> object(int depth) {
        checkDepth(depth);
        at++; // {
        Map<String, Object> members = new LinkedHashMap<>();
        skipSpace();
        if (peek() == '}') {
            at++;
            return members;
        }
        while (true) {
            skipSpace();
            if (peek() != '"') {
                throw malformed("expected a member name in double quotes");
            }
            String name = string();
            skipSpace();
            expect(':');
            skipSpace();
            members.put(name, value(depth));
            skipSpace();
            if (peek() == ',') {
                at++;
            } else if (peek() == '}') {
                at++;
                return members;
            } else {
                throw malformed("expected ',' or '}' in an object");
            }
        }
    }

    private List<Object> array(int depth) {
        checkDepth(depth);
        at++; // [
        List<Object> elements = new ArrayList<>();
        skipSpace();
        if (peek() == ']') {
            at++;
            return elements;
        }
        while (true) {
            skipSpace();
            elements.add(value(depth));
            skipSpace();
            if (peek() == ',') {
                at++;
            } else if (peek() == ']') {
                at++;
                return elements;
            } else {
                throw malformed("expected ',' or ']' in an array");
            }
        }
    }

    private String string() {
        at++; // "
        StringBuilder value = null;
        int start = at;
        while (true) {
            if (at >= text.length()) {
                throw malformed("unterminated string");
            }
            char c = text.charAt(at);
            if (c == '"') {
                String tail = text.substring(start, at++);
                return value == null ? tail : value.append(tail).toString();
            }
            if (c < 0x20) {
                throw malformed("control character " + describe(c) + " in a string (it must be escaped)");
            }
            if (c != '\\') {
                at++;
                continue;
            }
            if (value == null) {
                value = new StringBuilder();
            }
            value.append(text, start, at);
            at++;
            if (at >= text.length()) {
                throw malformed("unterminated string");
            }
            char escaped = text.charAt(at++);
            switch (escaped) {
                case '"', '\\', '/' -> value.append(escaped);
                case 'b' -> value.append('\b');
                case 'f' -> value.append('\f');
                case 'n' -> value.append('\n');
                case 'r' -> value.append('\r');
                case 't' -> value.append('\t');
                case 'u' -> {
                    if (at + 4 > text.length()) {
                        throw malformed("unterminated \\u escape");
                    }
                    int code = 0;
                    for (int i = 0; i < 4; i++) {
                        int digit = hexDigit(text.charAt(at));
                        if (digit < 0) {
                            throw malformed("invalid \\u escape");
                        }
                        code = code * 16 + digit;
                        at++;
                    }
                    value.append((char) code);
                }
                default -> {
                    at--;
                    throw malformed("invalid escape \\" + escaped);
                }
            }
            start = at;
        }
    }

    private Object number() {
        int start = at;
        boolean integral = true;
        if (peek() == '-') {
            at++;
        }
        if (peek() == '0') {
            at++;
        } else if (!digits()) {
            throw malformed("invalid number");
        }
        if (peek() == '.') {
            at++;
            integral = false;
            if (!digits()) {
                throw malformed("invalid number: digits must follow '.'");
            }
        }
        if (peek() == 'e' || peek() == 'E') {
            at++;
            integral = false;
            if (peek() == '+' || peek() == '-') {
                at++;
            }
            if (!digits()) {
                throw malformed("invalid number: digits must follow the exponent");
            }
        }
        if (at - start > MAX_NUMBER_LENGTH) {
            at = start;
            throw malformed("number longer than " + MAX_NUMBER_LENGTH + " characters");
        }
        String number = text.substring(start, at);
        try {
            if (!integral) {
                return new BigDecimal(number);
            }
            return number.length() < 19 ? (Object) Long.parseLong(number) : integer(new BigInteger(number));
        } catch (NumberFormatException e) { // an exponent beyond what BigDecimal holds
            at = start;
            throw malformed("number out of range");
        }
    }

    /** The value of an ASCII hex digit (RFC 8259 allows no other), or -1. */
    private static int hexDigit(char c) {
        if (c >= '0' && c <= '9') {
            return c - '0';
        }
        if (c >= 'a' && c <= 'f') {
            return c - 'a' + 10;
        }
        return c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
    }

    private static Object integer(BigInteger value) {
        return value.bitLength() < 64 ? (Object) value.longValue() : value;
    }

    private boolean digits() {
        int start = at;
        while (peek() >= '0' && peek() <= '9') {
            at++;
        }
        return at > start;
    }

    private Object literal(String word, Object value) {
        if (!text.startsWith(word, at)) {
            throw malformed("unexpected character " + describe(text.charAt(at)));
        }
        at += word.length();
        return value;
    }

    private void checkDepth(int depth) {
        if (depth > MAX_DEPTH) {
            throw malformed("nested deeper than " + MAX_DEPTH + " levels");
        }
    }

    private char peek() {
        return at < text.length() ? text.charAt(at) : '\0';
    }

    private void expect(char c) {
        if (peek() != c) {
            throw malformed("expected '" + c + "'");
        }
        at++;
    }

    private void skipSpace() {
        while (at < text.length()) {
            char c = text.charAt(at);
            if (c != ' ' && c != '\t' && c != '\n' && c != '\r') {
                return;
            }
            at++;
        }
    }

    private MalformedJson malformed(String what) {
        return new MalformedJson(what + " at offset " + at);
    }

    private static String describe(char c) {
        return c >= 0x20 && c < 0x7f ? "'" + c + "'" : String.format("U+%04X", (int) c);
    }

    /** Writes {@code tree}; {@code indent} is the current depth when pretty, -1 when compact. */
    private static void write(Object tree, StringBuilder out, int indent) {
        if (tree == null) {
            out.append("null");
        } else if (tree instanceof String string) {
            quote(string, out);
        } else if (tree instanceof Boolean || tree instanceof Long || tree instanceof Integer
                || tree instanceof BigInteger || tree instanceof BigDecimal) {
            out.append(tree);
        } else if (tree instanceof Double number) {
            if (number.isNaN() || number.isInfinite()) {
                throw new IllegalArgumentException("JSON has no " + number);
            }
            out.append(number);
        } else if (tree instanceof Map<?, ?> map) {
            container(map.entrySet().iterator(), true, out, indent);
        } else if (tree instanceof List<?> list) {
            container(list.iterator(), false, out, indent);
        } else {
            throw new IllegalArgumentException("not a JSON tree: " + tree.getClass().getName());
        }
    }

    /** An object (its {@code Map.Entry} members) or an array. */
    private static void container(Iterator<?> items, boolean object, StringBuilder out, int indent) {
        out.append(object ? '{' : '[');
        if (!items.hasNext()) {
            out.append(object ? '}' : ']');
            return;
        }
        int inner = indent < 0 ? -1 : indent + 1;
        boolean first = true;
        while (items.hasNext()) {
            if (!first) {
                out.append(',');
            }
            first = false;
            newLine(out, inner);
            Object item = items.next();
            if (object) {
                Map.Entry<?, ?> member = (Map.Entry<?, ?>) item;
                quote(String.valueOf(member.getKey()), out);
                out.append(indent < 0 ? ":" : ": ");
                item = member.getValue();
            }
            write(item, out, inner);
        }
        newLine(out, indent);
        out.append(object ? '}' : ']');
    }

    private static void newLine(StringBuilder out, int indent) {
        if (indent >= 0) {
            out.append('\n').append("  ".repeat(indent));
        }
    }

    private static void quote(String value, StringBuilder out) {
        out.append('"');
        for (int i = 0; i < value.length(); i++) {
            char c = value.charAt(i);
            switch (c) {
                case '"' -> out.append("\\\"");
                case '\\' -> out.append("\\\\");
                case '\n' -> out.append("\\n");
                case '\r' -> out.append("\\r");
                case '\t' -> out.append("\\t");
                default -> {
                    if (c < 0x20 || c >= 0x7f && c <= 0x9f || loneSurrogate(value, i)) {
                        out.append(String.format("\\u%04x", (int) c));
                    } else {
                        out.append(c);
                    }
                }
            }
        }
        out.append('"');
    }

    /**
     * Whether {@code value}'s character at {@code i} is half of a surrogate pair without its other
     * half: UTF-8 cannot encode it (it would print as '?'), its escape reads back as itself.
     */
    private static boolean loneSurrogate(String value, int i) {
        char c = value.charAt(i);
        if (Character.isHighSurrogate(c)) {
            return i + 1 >= value.length() || !Character.isLowSurrogate(value.charAt(i + 1));
        }
        return Character.isLowSurrogate(c) && (i == 0 || !Character.isHighSurrogate(value.charAt(i - 1)));
    }
}
